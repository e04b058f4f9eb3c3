using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Onnx;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using MLNetDeep.OnnxImport.Graph;
using MLNetDeep.Tests.Seq2Seq;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// MLNetDeep's seq2seq exports (an encoder graph and a decoder-step graph with attention) imported and run on real
/// CMUdict words against ONNX Runtime on the same graphs: every output (memory, keys, states, log-probabilities,
/// attention weights) within 1e-4, for three decoding steps fed the previous step's outputs.
/// </summary>
public sealed class Seq2SeqImportTests
{
    private readonly ITestOutputHelper _out;
    public Seq2SeqImportTests(ITestOutputHelper output) => _out = output;

    [Theory]
    [InlineData(AttentionKind.Bahdanau, RecurrentCell.Gru, 2)]
    [InlineData(AttentionKind.LuongGeneral, RecurrentCell.Lstm, 1)]
    public void EncoderAndDecoderStep_MatchOnnxRuntime(AttentionKind attention, RecurrentCell cell, int decoderLayers)
    {
        var baseArch = G2PData.Architecture(attention, cell, hidden: 24);
        var arch = new Seq2SeqArchitecture
        {
            Input = baseArch.Input,
            Encoder = new RecurrentEncoder { Cell = cell, HiddenSize = 24, Bidirectional = true, Layers = 2, EmbeddingSize = 16 },
            Decoder = new RecurrentDecoder { Cell = cell, HiddenSize = baseArch.Decoder.HiddenSize, Layers = decoderLayers, EmbeddingSize = 16, Attention = attention, AttentionSize = 20 },
            TargetVocabularySize = G2PData.Phonemes, MaxOutputLength = 30,
        };
        using var net = G2PData.Build(arch, seed: 11);
        net.eval();
        var models = Seq2SeqOnnx.Export(net);
        var words = G2PData.Examples(CmuDictSplit.Test, 8, CmuDictVariants.First).Select(e => e.Source).ToList();
        int n = words.Count, s = words.Max(w => w.Length);
        var ids = new long[n * s];
        for (int i = 0; i < n; i++) for (int j = 0; j < words[i].Length; j++) ids[i * s + j] = (long)words[i][j];
        var lengths = Int32s(Seq2SeqOnnx.SourceLengths, words.Select(w => w.Length).ToArray(), n);

        var encoded = Compare(models.Encoder, new Dictionary<string, TensorProto>
        {
            [Seq2SeqOnnx.SourceIds] = TensorProto.FromInt64s(Seq2SeqOnnx.SourceIds, ids, n, s),
            [Seq2SeqOnnx.SourceLengths] = lengths,
        }, "encoder");
        var state = new Dictionary<string, TensorProto>(encoded) { [Seq2SeqOnnx.SourceLengths] = lengths };
        var previous = Enumerable.Repeat((long)arch.StartId, n).ToArray();
        for (int t = 0; t < 3; t++)
        {
            state[Seq2SeqOnnx.PreviousToken] = TensorProto.FromInt64s(Seq2SeqOnnx.PreviousToken, previous, n);
            var step = Compare(models.DecoderStep, state, $"step {t}");
            state[Seq2SeqOnnx.H] = Renamed(step[Seq2SeqOnnx.NextH], Seq2SeqOnnx.H);
            if (step.ContainsKey(Seq2SeqOnnx.NextC)) state[Seq2SeqOnnx.C] = Renamed(step[Seq2SeqOnnx.NextC], Seq2SeqOnnx.C);
            using var logp = OnnxTensors.ToTensor(step[Seq2SeqOnnx.LogProbabilities], "log-probabilities");
            previous = OnnxTensors.Longs(logp.argmax(-1) + 1);
        }
    }

    /// <summary>
    /// Runs the graph in ONNX Runtime and imported, on the inputs it declares (taken by name from
    /// <paramref name="available"/>); asserts every output within 1e-4; returns ONNX Runtime's outputs by name.
    /// </summary>
    private Dictionary<string, TensorProto> Compare(byte[] model, Dictionary<string, TensorProto> available, string what)
    {
        var graph = ModelProto.Parse(model).Graph;
        var inputs = graph.Inputs.Where(i => graph.Initializers.All(t => t.Name != i.Name)).Select(i => available[i.Name]).ToList();
        var reference = OrtRaw.Run(model, inputs);
        using var imported = OnnxNetwork.Load(new MemoryStream(model), new OnnxImportOptions { OutputNames = graph.Outputs.Select(o => o.Name).ToList() });
        imported.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var byName = graph.Inputs.Select((v, i) => (v.Name, i)).ToDictionary(p => p.Name, p => p.i);
        var args = imported.InputNames.Select(name => OnnxTensors.ToTensor(inputs[byName[name]], name)).ToArray();
        var actual = imported.ForwardAll(args);
        var result = new Dictionary<string, TensorProto>();
        for (int o = 0; o < graph.Outputs.Count; o++)
        {
            var name = graph.Outputs[o].Name;
            var r = reference[o]!;
            var expected = new TensorProto { Name = name, DataType = (OnnxDataType)(int)r.Type, Dims = r.Shape.ToList(), RawData = r.Bytes };
            result[name] = expected;
            using var e = OnnxTensors.ToTensor(expected, name);
            var a = actual[imported.OutputNames.ToList().IndexOf(name)];
            Assert.Equal(e.shape, a.shape);
            double diff = e.numel() == 0 ? 0 : (e.to(ScalarType.Float64) - a.to(ScalarType.Float64)).abs().max().item<double>();
            _out.WriteLine($"{what} {name} [{string.Join(", ", e.shape)}]: max abs diff {diff:G3}");
            Assert.True(diff <= 1e-4, $"{what} {name}: max abs diff {diff}");
        }
        return result;
    }

    private static TensorProto Int32s(string name, int[] values, params long[] dims) => new()
    {
        Name = name, DataType = OnnxDataType.Int32, Dims = dims.ToList(), RawData = values.SelectMany(BitConverter.GetBytes).ToArray(),
    };

    private static TensorProto Renamed(TensorProto t, string name) => new() { Name = name, DataType = t.DataType, Dims = t.Dims, RawData = t.RawData };
}
