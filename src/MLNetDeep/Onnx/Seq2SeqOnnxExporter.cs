using MLNetDeep.Data;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Onnx.Proto;
using TorchSharp;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;
using OnnxCell = MLNetDeep.Onnx.RecurrentCell;
using SequenceCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Onnx;

/// <summary>The two ONNX graphs of a seq2seq model: run the encoder once per batch, then the decoder step in a loop.</summary>
public sealed class Seq2SeqOnnxModels
{
    /// <summary>The encoder graph (see <see cref="Seq2SeqOnnx"/> for its inputs and outputs).</summary>
    public required byte[] Encoder { get; init; }
    /// <summary>The one-step decoder graph.</summary>
    public required byte[] DecoderStep { get; init; }
}

/// <summary>
/// ONNX export of a <see cref="Seq2SeqNetwork"/> as two graphs, an encoder and one decoder step (state in, state and
/// log-probabilities out, attention included), with the decoding loop left to the caller (greedy or beam search: see
/// docs/seq2seq.md for the driver loop). Token and numeric sequence sources and dense-projected vector sources are
/// exportable; a CNN vector encoder is not yet.
/// <para>Encoder inputs: <see cref="SourceIds"/> int64 [N, S] (token sources) or <see cref="Source"/> float [N, S, F]
/// (numeric) / [N, D] (vectors), and <see cref="SourceLengths"/> int32 [N] (sequence sources: real steps per row).
/// Encoder outputs: <see cref="Memory"/> [N, S, M], <see cref="Keys"/> (with attention), <see cref="H"/> [L, N, H] and,
/// for LSTM decoders, <see cref="C"/>.</para>
/// <para>Decoder-step inputs: <see cref="PreviousToken"/> int64 [N] (the start id K + 2 first, then the previous
/// output's id), <see cref="H"/>, <see cref="C"/>, <see cref="Memory"/>, <see cref="Keys"/>, <see cref="SourceLengths"/>.
/// Outputs: <see cref="LogProbabilities"/> float [N, K + 1] (output index j is target id j + 1; index K is the end
/// token), <see cref="NextH"/>, <see cref="NextC"/> and <see cref="Attention"/> float [N, S].</para>
/// </summary>
public static class Seq2SeqOnnx
{
    /// <summary>Encoder input: token ids (int64 [N, S]).</summary>
    public const string SourceIds = "SourceIds";
    /// <summary>Encoder input: numeric steps (float [N, S, F]) or vectors (float [N, D]).</summary>
    public const string Source = "Source";
    /// <summary>Encoder and decoder input (sequence sources): int32 [N] real source steps per row.</summary>
    public const string SourceLengths = "SourceLengths";
    /// <summary>Encoder output, decoder input: the memory attention reads, float [N, S, M].</summary>
    public const string Memory = "Memory";
    /// <summary>Encoder output, decoder input (with attention): the memory as attention scores it.</summary>
    public const string Keys = "Keys";
    /// <summary>Encoder output (initial) and decoder input: hidden state float [L, N, H].</summary>
    public const string H = "H";
    /// <summary>Encoder output (initial) and decoder input (LSTM decoders): cell state float [L, N, H].</summary>
    public const string C = "C";
    /// <summary>Decoder input: the previous output's id, int64 [N].</summary>
    public const string PreviousToken = "PreviousToken";
    /// <summary>Decoder output: log-softmax over the K tokens and the end token, float [N, K + 1].</summary>
    public const string LogProbabilities = "LogProbabilities";
    /// <summary>Decoder output: next hidden state.</summary>
    public const string NextH = "NextH";
    /// <summary>Decoder output (LSTM): next cell state.</summary>
    public const string NextC = "NextC";
    /// <summary>Decoder output (with attention): the step's attention weights over the source, float [N, S].</summary>
    public const string Attention = "Attention";

    /// <summary>Both graphs in memory.</summary>
    public static Seq2SeqOnnxModels Export(Seq2SeqNetwork network, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        options.Validate();
        var arch = network.Architecture;
        if (arch.VectorSource && arch.VectorEncoder.Cnn is not null)
            throw new OnnxExportException("VectorEncoder.Cnn", "a CNN vector encoder can't be exported yet; a dense projection (VectorEncoder.Cnn = null) can.");
        using var _ = no_grad();
        return new Seq2SeqOnnxModels { Encoder = Encoder(network, options), DecoderStep = DecoderStep(network, options) };
    }

    /// <summary>Writes both graphs (each atomically).</summary>
    public static void Export(Seq2SeqNetwork network, string encoderPath, string decoderStepPath, OnnxExportOptions? options = null)
    {
        var models = Export(network, options);
        OnnxExporter.WriteAtomic(encoderPath, models.Encoder);
        OnnxExporter.WriteAtomic(decoderStepPath, models.DecoderStep);
    }

    private static OnnxCell Cell(SequenceCell cell, Models.Sequence.RnnNonlinearity nonlinearity) => cell switch
    {
        SequenceCell.Lstm => OnnxCell.Lstm,
        SequenceCell.Gru => OnnxCell.Gru,
        _ => nonlinearity == Models.Sequence.RnnNonlinearity.Relu ? OnnxCell.RnnRelu : OnnxCell.RnnTanh,
    };

    private static byte[] Encoder(Seq2SeqNetwork network, OnnxExportOptions options)
    {
        var arch = network.Architecture;
        var g = new OnnxGraphBuilder(options.Opset);
        var ctx = new OnnxExportContext(g, options, arch, network);
        var dec = arch.Decoder;
        string summary, memory;
        string? lengths = null;
        if (arch.Input is FixedShapeLayout fixedShape)
        {
            var x = Input(g, Source, OnnxDataType.Float, new List<object> { "N", fixedShape.Size }, "One vector per row (the row's values, flattened).");
            var raw = OnnxLayers.DenseHead(ctx, arch.VectorEncoder.Projection, x, "vectorEncoder.layers");
            summary = g.Node("Tanh", new[] { raw }, "encoded");                                             // [N, P]
            memory = g.Node("Unsqueeze", new[] { summary, g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "memory_slot"); // [N, 1, P]
        }
        else
        {
            string steps;
            if (arch.Input is TokenSequenceLayout)
            {
                var ids = Input(g, SourceIds, OnnxDataType.Int64, new List<object> { "N", "S" }, "Source token ids 1..V (0 = padding), padded after each row's length.");
                var embedding = ctx.Module<TorchSharp.Modules.Embedding>("sourceEmbedding", "the source embedding");
                steps = g.Node("Gather", new[] { g.Initializer("sourceEmbedding.weight", embedding.weight!), ids }, "embedded", Int("axis", 0)); // [N, S, E]
            }
            else
            {
                long f = ((NumericSequenceLayout)arch.Input).FeaturesPerStep;
                steps = Input(g, Source, OnnxDataType.Float, new List<object> { "N", "S", f }, "Source steps, padded after each row's length.");
            }
            lengths = Input(g, SourceLengths, OnnxDataType.Int32, new List<object> { "N" }, "Real source steps of each row (1..S).");
            var enc = arch.Encoder;
            string label = $"the encoder (Cell={enc.Cell}, Layers={enc.Layers}, Bidirectional={enc.Bidirectional})";
            var sequenceMajor = g.Node("Transpose", new[] { steps }, "steps_t", Ints("perm", 1, 0, 2));   // [S, N, F]
            var (sequence, last) = RecurrentOnnx.Emit(g, ctx.Module<nn.Module>("encoder", label), Cell(enc.Cell, enc.Nonlinearity),
                sequenceMajor, lengths, enc.HiddenSize, enc.Layers, enc.Bidirectional, "encoder", label);
            memory = g.Node("Transpose", new[] { sequence }, "memory_batch_major", Ints("perm", 1, 0, 2)); // [N, S, M]
            summary = last;                                                                                 // [N, D·He]
        }
        var outputs = new List<(string Name, string Value, List<object> Shape, string Doc)>
        {
            (Memory, memory, new List<object> { "N", "S", (long)arch.MemoryWidth }, "Encoder outputs (zeros after each row's length)."),
        };
        if (arch.Decoder.Attention != AttentionKind.None)
        {
            string keys = arch.Decoder.Attention == AttentionKind.LuongDot ? memory
                : MatMulT(ctx, "attentionKey", memory, "keys");
            long width = arch.Decoder.Attention == AttentionKind.Bahdanau ? dec.AttentionSize : arch.Decoder.Attention == AttentionKind.LuongGeneral ? dec.HiddenSize : arch.MemoryWidth;
            outputs.Add((Keys, keys, new List<object> { "N", "S", width }, "The memory as attention scores it."));
        }
        outputs.Add((H, InitialState(ctx, "bridge", summary, dec), new List<object> { (long)dec.Layers, "N", (long)dec.HiddenSize }, "The decoder's initial hidden state."));
        if (dec.Cell == SequenceCell.Lstm)
            outputs.Add((C, InitialState(ctx, "bridgeCell", summary, dec), new List<object> { (long)dec.Layers, "N", (long)dec.HiddenSize }, "The decoder's initial cell state."));
        foreach (var (name, value, shape, doc) in outputs) Output(g, name, value, shape, doc);
        return Serialize(g, options, "MLNetDeep seq2seq encoder", "MLNetDeep_Seq2SeqEncoder");
    }

    private static byte[] DecoderStep(Seq2SeqNetwork network, OnnxExportOptions options)
    {
        var arch = network.Architecture;
        var dec = arch.Decoder;
        var g = new OnnxGraphBuilder(options.Opset);
        var ctx = new OnnxExportContext(g, options, arch, network);
        var stateShape = new List<object> { (long)dec.Layers, "N", (long)dec.HiddenSize };
        var previous = Input(g, PreviousToken, OnnxDataType.Int64, new List<object> { "N" }, $"The previous output's id: the start id {arch.StartId} at the first step.");
        var h = Input(g, H, OnnxDataType.Float, stateShape, "Hidden state (the encoder's H at the first step).");
        var c = dec.Cell == SequenceCell.Lstm ? Input(g, C, OnnxDataType.Float, stateShape, "Cell state (the encoder's C at the first step).") : null;
        bool attention = dec.Attention != AttentionKind.None;
        string? memory = null, keys = null, lengths = null;
        if (attention)
        {
            memory = Input(g, Memory, OnnxDataType.Float, new List<object> { "N", "S", (long)arch.MemoryWidth }, "The encoder's Memory.");
            keys = Input(g, Keys, OnnxDataType.Float, new List<object> { "N", "S", "KeyWidth" }, "The encoder's Keys.");
            if (!arch.VectorSource) lengths = Input(g, SourceLengths, OnnxDataType.Int32, new List<object> { "N" }, "Real source steps of each row (padded steps get no attention).");
        }
        var embedding = ctx.Module<TorchSharp.Modules.Embedding>("targetEmbedding", "the target embedding");
        var input = g.Node("Gather", new[] { g.Initializer("targetEmbedding.weight", embedding.weight!), previous }, "target_embedded", Int("axis", 0)); // [N, E]
        string? context = null, weights = null;
        if (dec.Attention == AttentionKind.Bahdanau)
        {
            var top = g.Node("Gather", new[] { h, g.Int64Constant("top_layer", new long[] { dec.Layers - 1 }) }, "query", Int("axis", 0)); // [N, Hd]
            var q = g.Node("Unsqueeze", new[] { MatMulT(ctx, "attentionQuery", top, "query_projected"), g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "query_3d"); // [N, 1, A]
            var energy = g.Node("Tanh", new[] { g.Node("Add", new[] { q, keys! }, "energy_sum") }, "energy");          // [N, S, A]
            var scores = g.Node("Squeeze", new[] { MatMulT(ctx, "attentionScore", energy, "scores_3d"), g.Int64Constant("axis_2", new long[] { 2 }, 1) }, "scores"); // [N, S]
            (context, weights) = Attend(g, scores, memory!, lengths);
            input = g.Node("Concat", new[] { input, context }, "decoder_input", Int("axis", 1));                     // [N, E+M]
        }
        string label = $"the decoder (Cell={dec.Cell}, Layers={dec.Layers})";
        var (decoded, nextH, nextC) = RecurrentOnnx.EmitStep(g, ctx.Module<nn.Module>("decoder", label), Cell(dec.Cell, dec.Nonlinearity),
            input, h, c, dec.HiddenSize, dec.Layers, "decoder", label);                                                // [N, Hd]
        if (dec.Attention is AttentionKind.LuongDot or AttentionKind.LuongGeneral)
        {
            var column = g.Node("Unsqueeze", new[] { decoded, g.Int64Constant("axis_2", new long[] { 2 }, 1) }, "decoded_column"); // [N, Hd, 1]
            var scores = g.Node("Squeeze", new[] { g.Node("MatMul", new[] { keys!, column }, "scores_3d"), g.Int64Constant("axis_2", new long[] { 2 }, 1) }, "scores"); // [N, S]
            (context, weights) = Attend(g, scores, memory!, lengths);
        }
        var features = decoded;
        if (attention)
        {
            var joined = g.Node("Concat", new[] { decoded, context! }, "decoded_and_context", Int("axis", 1));
            features = g.Node("Tanh", new[] { OnnxLayers.Dense(ctx, "combine", null, joined, "the attention combination layer", "combine") }, "attentional");
        }
        var logits = OnnxLayers.Dense(ctx, "output", null, features, "the output projection", "output");                // [N, K+1]
        g.Node("LogSoftmax", new[] { logits }, new[] { g.Reserve(LogProbabilities) }, Int("axis", 1));
        g.Node("Identity", new[] { nextH }, new[] { g.Reserve(NextH) });
        Declare(g, LogProbabilities, new List<object> { "N", (long)arch.OutputClasses }, $"Log-probabilities: index j is target id j + 1; index {arch.OutputClasses - 1} is the end token.");
        Declare(g, NextH, stateShape, "The next hidden state.");
        if (nextC is not null)
        {
            g.Node("Identity", new[] { nextC }, new[] { g.Reserve(NextC) });
            Declare(g, NextC, stateShape, "The next cell state.");
        }
        if (weights is not null)
        {
            g.Node("Identity", new[] { weights }, new[] { g.Reserve(Attention) });
            Declare(g, Attention, new List<object> { "N", "S" }, "The step's attention weights over the source (0 on padded steps).");
        }
        return Serialize(g, options, "MLNetDeep seq2seq decoder step", "MLNetDeep_Seq2SeqDecoderStep");
    }

    /// <summary>Masked softmax of scores [N, S] (padded steps −∞) → context [N, M] and weights [N, S].</summary>
    private static (string Context, string Weights) Attend(OnnxGraphBuilder g, string scores, string memory, string? lengths)
    {
        if (lengths is not null)
        {
            var shape = g.Node("Shape", new[] { scores }, "scores_shape");
            var s = g.Node("Gather", new[] { shape, g.Int64Constant("scalar_1", new long[] { 1 }) }, "source_steps", Int("axis", 0));
            var range = g.Node("Range", new[] { g.Int64Constant("scalar_0", new long[] { 0 }), s, g.Int64Constant("scalar_1", new long[] { 1 }) }, "step_index"); // [S]
            var len = g.Node("Unsqueeze", new[] { g.Node("Cast", new[] { lengths }, "lengths_int64", Int("to", (long)OnnxDataType.Int64)), g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "lengths_column"); // [N, 1]
            var mask = g.Node("Less", new[] { range, len }, "real_steps");                                                 // [N, S]
            scores = g.Node("Where", new[] { mask, scores, g.FloatConstant("minus_infinity", float.NegativeInfinity) }, "masked_scores");
        }
        var weights = g.Node("Softmax", new[] { scores }, "attention_weights", Int("axis", 1));                              // [N, S]
        var row = g.Node("Unsqueeze", new[] { weights, g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "weights_row");      // [N, 1, S]
        var context = g.Node("Squeeze", new[] { g.Node("MatMul", new[] { row, memory }, "context_3d"), g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "context"); // [N, M]
        return (context, weights);
    }

    /// <summary>x [..., in] · Wᵀ (+ b) for the Linear at <paramref name="path"/>, any rank (MatMul, then Add).</summary>
    private static string MatMulT(OnnxExportContext ctx, string path, string x, string hint)
    {
        var linear = ctx.Module<TorchSharp.Modules.Linear>(path, $"layer '{path}'");
        var y = ctx.Graph.Node("MatMul", new[] { x, ctx.Graph.Initializer($"{path}.weight_t", linear.weight!.t()) }, hint);
        return linear.bias is null ? y : ctx.Graph.Node("Add", new[] { y, ctx.Graph.Initializer($"{path}.bias", linear.bias) }, hint + "_biased");
    }

    /// <summary>tanh(bridge(summary)) [N, L·H] → [L, N, H].</summary>
    private static string InitialState(OnnxExportContext ctx, string path, string summary, RecurrentDecoder dec)
    {
        var g = ctx.Graph;
        var flat = g.Node("Tanh", new[] { OnnxLayers.Dense(ctx, path, null, summary, $"the bridge '{path}'", path) }, $"{path}_tanh");
        var split = g.Node("Reshape", new[] { flat, g.Int64Constant($"shape_0_{dec.Layers}_{dec.HiddenSize}", new long[] { 0, dec.Layers, dec.HiddenSize }, 3) }, $"{path}_layers"); // [N, L, H]
        return g.Node("Transpose", new[] { split }, $"{path}_state", Ints("perm", 1, 0, 2));                                     // [L, N, H]
    }

    private static string Input(OnnxGraphBuilder g, string name, OnnxDataType type, List<object> shape, string doc)
    {
        g.Reserve(name);
        g.Graph.Inputs.Add(new ValueInfoProto { Name = name, ElemType = type, Shape = shape, DocString = doc });
        return name;
    }

    private static void Output(OnnxGraphBuilder g, string name, string value, List<object> shape, string doc)
    {
        g.Node("Identity", new[] { value }, new[] { g.Reserve(name) });
        Declare(g, name, shape, doc);
    }

    private static void Declare(OnnxGraphBuilder g, string name, List<object> shape, string doc) =>
        g.Graph.Outputs.Add(new ValueInfoProto { Name = name, ElemType = OnnxDataType.Float, Shape = shape, DocString = doc });

    private static byte[] Serialize(OnnxGraphBuilder g, OnnxExportOptions options, string doc, string name)
    {
        g.Graph.Name = name;
        var model = new ModelProto
        {
            IrVersion = OnnxExportOptions.IrVersionFor(options.Opset), ProducerName = "MLNetDeep",
            ProducerVersion = typeof(Seq2SeqOnnx).Assembly.GetName().Version?.ToString() ?? "",
            ModelVersion = options.ModelVersion, DocString = options.Description ?? doc, Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto("", options.Opset));
        return ProtoWriter.Serialize(model);
    }
}
