using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx.Proto;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using OnnxCell = MLNetDeep.Onnx.RecurrentCell;
using SequenceCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes a <see cref="SequenceArchitecture"/> network (many-to-one): the flat row → [N, T, F] (numeric steps) or
/// token ids → embedding (Gather), optional truncation to MaxLength, one ONNX LSTM / GRU / RNN node per layer
/// (<see cref="RecurrentOnnx"/>), the summary over time (last state, masked mean, masked max) and the dense head.
/// With <see cref="OnnxExportOptions.SequenceLengthsInput"/> a second input <see cref="OnnxNames.Lengths"/> (int32 [N])
/// becomes the recurrent nodes' <c>sequence_lens</c>, as the TorchSharp network packs padded batches.
/// </summary>
internal sealed class SequenceOnnxExporter : OnnxNetworkExporter
{
    /// <summary>Name of the dynamic per-row input dimension: numeric steps × features, or token steps.</summary>
    public const string ValuesDim = "SequenceValues";

    public override Type ArchitectureType => typeof(SequenceArchitecture);

    public override IReadOnlyList<object> InputDims(NetworkArchitecture architecture) => new object[] { ValuesDim };

    public override string Emit(OnnxExportContext ctx, string input)
    {
        var arch = (SequenceArchitecture)ctx.Architecture;
        var g = ctx.Graph;
        string? lengths = null;
        if (ctx.Options.SequenceLengthsInput)
        {
            lengths = g.Reserve(OnnxNames.Lengths);
            g.Graph.Inputs.Add(new ValueInfoProto
            {
                Name = lengths,
                ElemType = OnnxDataType.Int32,
                Shape = new List<object> { "N" },
                DocString = "Real number of steps of each row (1 to the padded length); the steps after it are padding and are ignored.",
            });
        }

        // Batch-major steps [N, T, F].
        string x;
        if (arch.Input is NumericSequenceLayout num)
            x = g.Node("Reshape", new[] { input, g.Int64Constant("shape_steps", new long[] { 0, -1, num.FeaturesPerStep }, 3) }, "steps");
        else if (arch.Input is TokenSequenceLayout)
        {
            var embedding = ctx.Module<TorchSharp.Modules.Embedding>("embedding", $"the token embedding (EmbeddingSize={arch.EmbeddingSize})");
            var table = g.Initializer("embedding.weight", embedding.weight!);
            // Ids arrive as floats (ML.NET key values); id 0 (padding / unknown) is the embedding's zero row.
            var ids = g.Node("Cast", new[] { input }, "token_ids", Int("to", (long)OnnxDataType.Int64));
            x = g.Node("Gather", new[] { table, ids }, "embedded", Int("axis", 0));
        }
        else throw new OnnxExportException($"Input ({arch.Input?.GetType().Name ?? "null"})", "only numeric and token sequence layouts are exportable.");

        if (!ctx.InputPreTruncated) (x, lengths) = Truncate(ctx, arch.Input, x, lengths);

        var sequenceMajor = g.Node("Transpose", new[] { x }, "steps_t", Ints("perm", 1, 0, 2));   // [T, N, F]
        var cell = arch.Cell switch
        {
            SequenceCell.Lstm => OnnxCell.Lstm,
            SequenceCell.Gru => OnnxCell.Gru,
            SequenceCell.Rnn => arch.Nonlinearity == RnnNonlinearity.Relu ? OnnxCell.RnnRelu : OnnxCell.RnnTanh,
            _ => throw new OnnxExportException($"Cell={arch.Cell}", "unknown recurrent cell."),
        };
        string label = $"the recurrent stack (Cell={arch.Cell}, Layers={arch.Layers}, Bidirectional={arch.Bidirectional})";
        var rnn = ctx.Module<TorchSharp.torch.nn.Module>("rnn", label);
        // Layer dropout is the identity at inference: nothing to write.
        var (sequence, lastState) = RecurrentOnnx.Emit(g, rnn, cell, sequenceMajor, lengths, arch.HiddenSize, arch.Layers, arch.Bidirectional, "rnn", label);

        if (arch.PerStepOutput) return PerStep(ctx, arch, sequence);

        var summary = arch.Summary switch
        {
            SequenceSummary.LastState => lastState,
            SequenceSummary.MeanOverTime => Mean(g, sequence, lengths),
            SequenceSummary.MaxOverTime => Max(g, sequence, lengths),
            _ => throw new OnnxExportException($"Summary={arch.Summary}", "unknown summary mode."),
        };
        var raw = OnnxLayers.DenseHead(ctx, arch.Head, summary);
        ctx.CheckAllParametersUsed();
        return raw;
    }

    /// <summary>Tagging: the dense head on every step, Y [T, N, D·H] → raw [N, T, outputs].</summary>
    private static string PerStep(OnnxExportContext ctx, SequenceArchitecture arch, string sequence)
    {
        var g = ctx.Graph;
        var batchMajor = g.Node("Transpose", new[] { sequence }, "outputs_batch_major", Ints("perm", 1, 0, 2));       // [N, T, D·H]
        var flat = g.Node("Reshape", new[] { batchMajor, g.Int64Constant("shape_m1_width", new long[] { -1, arch.OutputWidth }, 2) }, "outputs_flat");
        var raw = OnnxLayers.DenseHead(ctx, arch.Head, flat);                                                       // [N·T, K]
        var shape = g.Node("Shape", new[] { batchMajor }, "outputs_shape");
        var rowsSteps = g.Node("Slice", new[] { shape, g.Int64Constant("zero_1", new long[] { 0 }, 1), g.Int64Constant("two_1", new long[] { 2 }, 1) }, "rows_steps");
        var target = g.Node("Concat", new[] { rowsSteps, g.Int64Constant("minus_one_1", new long[] { -1 }, 1) }, "per_step_shape", Int("axis", 0));
        var result = g.Node("Reshape", new[] { raw, target }, "per_step_raw");                                      // [N, T, K]
        ctx.CheckAllParametersUsed();
        return result;
    }

    /// <summary>
    /// MaxLength as the transformer applies it: KeepEnd keeps the last MaxLength steps, KeepStart the first; Error
    /// is the caller's job (the graph reads what it is given). With per-row lengths only KeepStart can be written
    /// (KeepEnd would shift each row by its own amount).
    /// </summary>
    private static (string X, string? Lengths) Truncate(OnnxExportContext ctx, SequenceLayout layout, string x, string? lengths)
    {
        if (layout.MaxLength is not int max || layout.Truncation == SequenceTruncation.Error) return (x, lengths);
        var g = ctx.Graph;
        var axes = g.Int64Constant("axis_1", new long[] { 1 }, 1);
        if (layout.Truncation == SequenceTruncation.KeepStart)
        {
            x = g.Node("Slice", new[] { x, g.Int64Constant("zero_1", new long[] { 0 }, 1), g.Int64Constant("max_length", new long[] { max }, 1), axes }, "truncated");
            if (lengths is not null)
                lengths = g.Node("Min", new[] { lengths, Int32Scalar(g, "max_length_i32", max) }, "lengths_truncated");
            return (x, lengths);
        }
        if (lengths is not null)
            throw new OnnxExportException($"Truncation=KeepEnd with MaxLength={max}",
                "with a Lengths input each row would keep its own last MaxLength steps, which the exporter can't write. " +
                "Export without SequenceLengthsInput, or truncate the rows to MaxLength before scoring and export a model with Truncation=Error or KeepStart.");
        x = g.Node("Slice", new[] { x, g.Int64Constant("minus_max_length", new long[] { -max }, 1), g.Int64Constant("int64_max", new long[] { long.MaxValue }, 1), axes }, "truncated");
        return (x, lengths);
    }

    /// <summary>
    /// True when the pad mapping in front of a <see cref="OnnxGraphForm.PaddedRow"/> graph must keep a long row's last
    /// values (Truncation=KeepEnd with a MaxLength); otherwise it keeps the first values.
    /// </summary>
    internal static bool PadsKeepEnd(SequenceLayout layout) => layout.MaxLength is not null && layout.Truncation == SequenceTruncation.KeepEnd;

    /// <summary>
    /// The padded single-row front end: padded values [1, W] and the row's value count [1] (int32) → the row's kept
    /// values [1, kept·F], with MaxLength and Truncation applied as the transformer applies them. The pad mapping left
    /// the row's first W values (its last W when <see cref="PadsKeepEnd"/>) at the start of the padded vector.
    /// Rows the transformer would refuse (over MaxLength with Truncation=Error) or that don't fit (no MaxLength and more
    /// than W values) stop ONNX Runtime at a Gather (index out of bounds) whose node name says why (ONNX has no assert
    /// operator): the row's values are multiplied by that Gather's 1.0, so the check can't be pruned.
    /// </summary>
    internal static string PaddedFrontEnd(OnnxGraphBuilder g, SequenceLayout layout, string padded, string count, int width)
    {
        long f = layout.ValuesPerStep;
        var n = g.Node("Cast", new[] { count }, "value_count", Int("to", (long)OnnxDataType.Int64));               // [1]
        var widthConst = g.Int64Constant("padded_width", new long[] { width }, 1);
        var perStep = g.Int64Constant("values_per_step", new long[] { f }, 1);
        var present = g.Node("Min", new[] { n, widthConst }, "values_present");                                     // [1]
        var available = g.Node("Div", new[] { present, perStep }, "steps_present");                                 // whole steps present
        string kept;
        string? bad = null, why = null;
        if (layout.MaxLength is int max)
        {
            var maxConst = g.Int64Constant("max_length", new long[] { max }, 1);
            kept = g.Node("Min", new[] { available, maxConst }, "kept_steps");
            if (layout.Truncation == SequenceTruncation.Error)
            {
                var steps = g.Node("Div", new[] { n, perStep }, "row_steps");
                bad = g.Node("Greater", new[] { steps, maxConst }, "over_max_length");
                why = $"row_has_more_steps_than_MaxLength_{max}_and_Truncation_is_Error";
            }
        }
        else
        {
            kept = available;
            bad = g.Node("Greater", new[] { n, widthConst }, "over_width");
            why = $"row_has_more_than_{width}_values_the_width_this_saved_model_was_sized_for";
        }
        var keptValues = g.Node("Mul", new[] { kept, perStep }, "kept_values");                                   // [1]
        var (start, end) = PadsKeepEnd(layout)
            ? (g.Node("Sub", new[] { present, keptValues }, "kept_start"), present)
            : (g.Int64Constant("zero_1", new long[] { 0 }, 1), keptValues);
        var values = g.Node("Slice", new[] { padded, start, end, g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "row_values"); // [1, kept·F]
        if (bad is null) return values;
        var index = g.Node("Where", new[] { bad, g.Int64Constant("out_of_bounds_1", new long[] { 1 }, 1), g.Int64Constant("zero_1", new long[] { 0 }, 1) }, "guard_index");
        var one = g.Node("Gather", new[] { g.Initializer("guard_one", new[] { 1f }, 1), index }, why!, Int("axis", 0)); // [1]
        return g.Node("Mul", new[] { values, one }, "row_values_checked");
    }

    private static string Int32Scalar(OnnxGraphBuilder g, string hint, int value)
    {
        var name = g.Unique(hint);
        var raw = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(raw, value);
        g.Graph.Initializers.Add(new TensorProto { Name = name, DataType = OnnxDataType.Int32, Dims = new List<long> { 1 }, RawData = raw });
        return name;
    }

    /// <summary>Y [T, N, D·H] → mean over the real steps [N, D·H] (padded steps of Y are zeros with sequence_lens).</summary>
    private static string Mean(OnnxGraphBuilder g, string y, string? lengths)
    {
        if (lengths is null) return Reduce(g, "ReduceMean", y, "mean_over_time");
        var sum = Reduce(g, "ReduceSum", y, "sum_over_time");
        var count = g.Node("Cast", new[] { lengths }, "lengths_float", Int("to", (long)OnnxDataType.Float));
        var column = g.Node("Unsqueeze", new[] { count, g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "lengths_column");
        return g.Node("Div", new[] { sum, column }, "mean_over_time");
    }

    /// <summary>Y [T, N, D·H] → maximum over the real steps [N, D·H] (padded steps set to −∞ first).</summary>
    private static string Max(OnnxGraphBuilder g, string y, string? lengths)
    {
        if (lengths is null) return Reduce(g, "ReduceMax", y, "max_over_time");
        var shape = g.Node("Shape", new[] { y }, "y_shape");
        var steps = g.Node("Gather", new[] { shape, g.Int64Constant("scalar_0", new long[] { 0 }) }, "steps_count", Int("axis", 0));
        var range = g.Node("Range", new[] { g.Int64Constant("scalar_0", new long[] { 0 }), steps, g.Int64Constant("scalar_1", new long[] { 1 }) }, "step_index");
        var rangeColumn = g.Node("Unsqueeze", new[] { range, g.Int64Constant("axis_1", new long[] { 1 }, 1) }, "step_index_column"); // [T, 1]
        var len64 = g.Node("Cast", new[] { lengths }, "lengths_int64", Int("to", (long)OnnxDataType.Int64));
        var lenRow = g.Node("Unsqueeze", new[] { len64, g.Int64Constant("axis_0", new long[] { 0 }, 1) }, "lengths_row");            // [1, N]
        var mask = g.Node("Less", new[] { rangeColumn, lenRow }, "real_steps");                                                       // [T, N]
        var mask3 = g.Node("Unsqueeze", new[] { mask, g.Int64Constant("axis_2", new long[] { 2 }, 1) }, "real_steps_3d");              // [T, N, 1]
        var masked = g.Node("Where", new[] { mask3, y, g.FloatConstant("minus_infinity", float.NegativeInfinity) }, "masked_outputs");
        return Reduce(g, "ReduceMax", masked, "max_over_time");
    }

    /// <summary>A reduction over axis 0 without keeping it; axes as an attribute or (ReduceSum from 13, the others from 18) as an input.</summary>
    private static string Reduce(OnnxGraphBuilder g, string op, string x, string hint)
    {
        bool axesInput = op == "ReduceSum" || g.Opset >= 18;
        return axesInput
            ? g.Node(op, new[] { x, g.Int64Constant("axis_0", new long[] { 0 }, 1) }, hint, Int("keepdims", 0))
            : g.Node(op, new[] { x }, hint, Ints("axes", 0), Int("keepdims", 0));
    }
}
