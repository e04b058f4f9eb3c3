using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

using MLNetDeep.Training;

namespace MLNetDeep.Tasks;

/// <summary>
/// Many-to-many classification: one key label per sequence step. Labels are a key vector aligned with the
/// sequence; the network outputs [B, T, K]; only real steps count in the loss, the metrics and the outputs
/// (Score = the row's steps × K probabilities, step-major; PredictedLabel = one key per step).
/// </summary>
internal sealed class SequenceTaggingHead : TaskHead
{
    /// <summary>Label value of padding steps (PyTorch's ignore_index convention).</summary>
    internal const long PaddingLabel = -100;

    public override PredictionKind Kind => PredictionKind.SequenceTagging;

    public override bool PerStepLabels => true;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not VectorDataViewType { ItemType: KeyDataViewType key })
            throw LabelTypeError(column, "sequence tagging needs a vector of keys with one label per step",
                $"Tokenize the per-step tags the same way as the input (e.g. mlContext.Transforms.Text.TokenizeIntoWords(\"{column.Name}\")) " +
                $"and add mlContext.Transforms.Conversion.MapValueToKey(\"{column.Name}\") before the trainer.");
        if (key.Count == 0 || key.Count > 100_000)
            throw LabelTypeError(column, $"the key has {key.Count} values", "Use a key type with a known count (MapValueToKey gives one).");
        return MulticlassHead.ClassNames(column, (int)key.Count);
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column) =>
        throw new NotSupportedException("Sequence tagging reads one label per step (StepLabels).");

    public override StepLabelReader StepLabels(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<VBuffer<uint>>(column);
        VBuffer<uint> value = default;
        float[] buffer = Array.Empty<float>();
        return r =>
        {
            getter(ref value);
            if (buffer.Length != value.Length) buffer = new float[value.Length];
            int i = 0;
            foreach (var k in value.DenseValues())
            {
                if (k == 0)
                    throw new InvalidDataException($"Label column '{column.Name}', row {r}, step {i}: the label is missing (key value 0). " +
                                                   "Every step needs a label that the label's MapValueToKey knows; fix the tags or fit the key mapping on them.");
                buffer[i++] = k - 1;
            }
            return buffer;
        };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        var seen = new HashSet<float>();
        foreach (var l in labels) { seen.Add(l); if (seen.Count > 1) break; }
        if (seen.Count < 2)
            throw new InvalidDataException(
                $"Label column '{labelColumn}' holds a single tag ('{(labels.Length > 0 ? classNames[(int)labels[0]] : "")}') on all {labels.Length} training steps; " +
                "a tagger needs at least two. Check the tags or the data split.");
        return new HeadSpec { Kind = Kind, ClassNames = classNames };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) =>
        throw new NotSupportedException("Sequence tagging labels are built per step (StepLabelTensor).");

    /// <summary>[N, Lmax] int64 class indices, padded with <see cref="PaddingLabel"/>.</summary>
    public override Tensor StepLabelTensor(HeadSpec spec, float[] labels, long[] offsets)
    {
        int n = offsets.Length - 1;
        long width = 1;
        for (int i = 0; i < n; i++) width = Math.Max(width, offsets[i + 1] - offsets[i]);
        var buffer = new long[n * width];
        Array.Fill(buffer, PaddingLabel);
        for (int i = 0; i < n; i++)
            for (long j = offsets[i]; j < offsets[i + 1]; j++)
                buffer[i * width + (j - offsets[i])] = (long)labels[j];
        return tensor(buffer, new long[] { n, width });
    }

    /// <summary>Labels [B, Lmax] cut or padded to the output's T steps.</summary>
    private static Tensor Align(Tensor labels, long steps)
    {
        long width = labels.shape[1];
        if (width == steps) return labels.alias();
        if (width > steps) return labels.narrow(1, 0, steps);
        return F.pad(labels, new long[] { 0, steps - width }, value: PaddingLabel);
    }

    /// <summary>
    /// Per-row loss = the row's summed step losses × B / (real steps in the batch), so the batch mean is the mean
    /// over real steps (each step counts once, whatever its row's length); padding steps add nothing.
    /// </summary>
    public override Tensor Loss(Tensor output, Tensor labels)
    {
        long b = output.shape[0], t = output.shape[1], k = output.shape[2];
        using var scope = NewDisposeScope();
        var aligned = Align(labels, t);                                                        // [B, T]
        var perStep = F.cross_entropy(output.reshape(b * t, k), aligned.reshape(b * t), ignore_index: PaddingLabel,
            reduction: nn.Reduction.None).reshape(b, t);                                     // [B, T], 0 on padding
        var real = aligned.ne(PaddingLabel).sum().clamp_min(1).to(output.dtype);
        return (perStep.sum(1) * b / real).MoveToOuterDisposeScope();                         // [B]
    }

    /// <summary>
    /// The training loss with label smoothing and per-tag weights: each real step's cross-entropy (smoothed over the tags
    /// when ε &gt; 0) is weighted by its tag's weight, and the batch mean is Σ w·loss / Σ w over the batch's real steps;
    /// padding steps weigh 0. With neither set this is <see cref="Loss"/>.
    /// </summary>
    public override Tensor TrainingLoss(Tensor output, Tensor labels, Tensor? exampleWeights, double labelSmoothing, Tensor? classWeights)
    {
        if (labelSmoothing <= 0 && classWeights is null) return Reduce(Loss(output, labels), exampleWeights);
        long b = output.shape[0], t = output.shape[1], k = output.shape[2];
        using var scope = NewDisposeScope();
        var aligned = Align(labels, t);                                                        // [B, T]
        var real = aligned.ne(PaddingLabel);                                                   // [B, T]
        var perStep = F.cross_entropy(output.reshape(b * t, k), aligned.reshape(b * t), ignore_index: PaddingLabel,
            reduction: nn.Reduction.None, label_smoothing: Math.Max(0, labelSmoothing)).reshape(b, t);
        var stepWeights = classWeights is null
            ? real.to(output.dtype)
            : classWeights.index_select(0, aligned.clamp_min(0).reshape(b * t)).reshape(b, t) * real.to(output.dtype);
        var perRow = (perStep * stepWeights).sum(1) * b / stepWeights.sum().clamp_min(1e-12); // [B]
        return Reduce(perRow, exampleWeights).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<MetricInfo> MetricInfos { get; } = new[]
    {
        new MetricInfo("accuracy", HigherIsBetter: true), new MetricInfo("sequence_accuracy", HigherIsBetter: true),
    };

    public override int OutputSize(HeadSpec spec) => spec.ClassNames.Length;

    public override IReadOnlyList<OutputColumn> OutputColumns { get; } = new[] { OutputColumn.Score, OutputColumn.PredictedLabel };

    /// <summary>The padded single-row graph adds the row's step count.</summary>
    internal override string[] OnnxOutputNames(Onnx.OnnxGraphForm form) => form == Onnx.OnnxGraphForm.PaddedRow
        ? new[] { Onnx.OnnxExporter.SingleRowScalarPrefix + Onnx.OnnxNames.Score, Onnx.OnnxExporter.SingleRowScalarPrefix + Onnx.OnnxNames.PredictedLabel,
                  Onnx.OnnxExporter.SingleRowScalarPrefix + Onnx.OnnxExporter.TaggedSteps }
        : base.OnnxOutputNames(form);

    /// <summary>raw [N, T, K] → per-step probabilities and tag names (padded steps are to be ignored); the padded single-row graph pads them to fixed sizes.</summary>
    internal override void EmitOnnx(Onnx.OnnxHeadWriter w)
    {
        if (w.Form == Onnx.OnnxGraphForm.PaddedRow)
        {
            PaddedRowOutputs(w, w.MaxSteps ?? throw new InvalidOperationException("maxSteps is required for the padded tagging head."));
            return;
        }
        var g = w.G;
        int k = w.Spec.ClassNames.Length;
        var probs = g.Node("Softmax", new[] { w.Raw }, new[] { Onnx.OnnxNames.Score }, Onnx.OnnxGraphBuilder.Int("axis", 2))[0];
        var index = g.Node("ArgMax", new[] { probs }, "predicted_index", Onnx.OnnxGraphBuilder.Int("axis", 2), Onnx.OnnxGraphBuilder.Int("keepdims", 0));
        var classes = g.StringConstant("class_names", w.Spec.ClassNames, k);
        g.Node("Gather", new[] { classes, index }, new[] { Onnx.OnnxNames.PredictedLabel }, Onnx.OnnxGraphBuilder.Int("axis", 0));
        w.Output(Onnx.OnnxNames.Score, Onnx.Proto.OnnxDataType.Float, new List<object> { w.N, "Steps", (long)k },
            "Per-step tag probabilities (softmax), in the order of the metadata's class names; steps past a row's length are padding.");
        w.Output(Onnx.OnnxNames.PredictedLabel, Onnx.Proto.OnnxDataType.String, new List<object> { w.N, "Steps" },
            "Per-step name of the most probable tag; steps past a row's length are padding.");
    }

    /// <summary>
    /// One row's per-step outputs at fixed sizes (ML.NET's OnnxTransformer declares known-size vectors only): raw
    /// [1, T, K] → probabilities [S·K] and tag names [S], zero-padded (names: the first tag) from the row's T kept steps
    /// to S = <paramref name="maxSteps"/>, and T itself; MLNetDeep.Onnx's tag mapping cuts them back to T.
    /// </summary>
    private static void PaddedRowOutputs(Onnx.OnnxHeadWriter w, long maxSteps)
    {
        var g = w.G;
        const string prefix = Onnx.OnnxExporter.SingleRowScalarPrefix;
        int k = w.Spec.ClassNames.Length;
        string Pad(string flat, string real, long full, string hint)
        {
            var missing = g.Node("Sub", new[] { g.Int64Constant($"{hint}_full", new long[] { full }, 1), real }, $"{hint}_missing");
            var pads = g.Node("Concat", new[] { g.Int64Constant("zero_1", new long[] { 0 }, 1), missing }, $"{hint}_pads", Onnx.OnnxGraphBuilder.Int("axis", 0));
            return g.Node("Pad", new[] { flat, pads }, $"{hint}_padded");
        }
        var flatShape = g.Int64Constant("shape_flat", new long[] { -1 }, 1);
        var probs = g.Node("Softmax", new[] { w.Raw }, "step_probabilities", Onnx.OnnxGraphBuilder.Int("axis", 2));                              // [1, T, K]
        var index = g.Node("Reshape", new[] { g.Node("ArgMax", new[] { probs }, "predicted_index", Onnx.OnnxGraphBuilder.Int("axis", 2), Onnx.OnnxGraphBuilder.Int("keepdims", 0)), flatShape }, "step_index"); // [T]
        var steps = g.Node("Shape", new[] { index }, new[] { prefix + Onnx.OnnxExporter.TaggedSteps })[0];             // [1] = T
        var values = g.Node("Mul", new[] { steps, g.Int64Constant("classes_1", new long[] { k }, 1) }, "step_values"); // [1] = T·K
        g.Node("Identity", new[] { Pad(g.Node("Reshape", new[] { probs, flatShape }, "step_probabilities_flat"), values, maxSteps * k, "scores") },
            new[] { prefix + Onnx.OnnxNames.Score });
        var classes = g.StringConstant("class_names", w.Spec.ClassNames, k);
        g.Node("Gather", new[] { classes, Pad(index, steps, maxSteps, "labels") }, new[] { prefix + Onnx.OnnxNames.PredictedLabel }, Onnx.OnnxGraphBuilder.Int("axis", 0));
        w.Output(prefix + Onnx.OnnxNames.Score, Onnx.Proto.OnnxDataType.Float, new List<object> { maxSteps * k },
            $"Per-step tag probabilities, step-major, padded with zeros to {maxSteps} steps.");
        w.Output(prefix + Onnx.OnnxNames.PredictedLabel, Onnx.Proto.OnnxDataType.String, new List<object> { maxSteps },
            $"Per-step tag names, padded to {maxSteps} steps.");
        w.Output(prefix + Onnx.OnnxExporter.TaggedSteps, Onnx.Proto.OnnxDataType.Int64, new List<object> { 1L }, "The row's number of tagged steps.");
    }

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var aligned = Align(labels, output.shape[1]);
        var real = aligned.ne(PaddingLabel);
        var correct = output.argmax(2).eq(aligned).logical_and(real);
        double steps = real.sum().item<long>();
        var rowAll = correct.eq(real).all(1);                                                  // every real step right
        return new()
        {
            ["accuracy"] = steps == 0 ? 0 : correct.sum().item<long>() / steps,
            ["sequence_accuracy"] = rowAll.to(ScalarType.Float64).mean().item<double>(),
        };
    }

    /// <summary>[B, T, K] → per-step probabilities [B, T, K].</summary>
    public override Tensor Postprocess(HeadSpec spec, Tensor output) => F.softmax(output, 2);

    /// <summary>[B, T, K] → the real steps' probabilities laid end to end, row by row ([Σ steps · K]).</summary>
    public override Tensor Postprocess(HeadSpec spec, Tensor output, Tensor? lengths)
    {
        using var scope = NewDisposeScope();
        var probs = F.softmax(output, 2);
        if (lengths is null) return probs.reshape(-1).MoveToOuterDisposeScope();
        long t = output.shape[1];
        var mask = arange(t, device: output.device).unsqueeze(0).lt(lengths.to(output.device).unsqueeze(1)); // [B, T]
        return probs.masked_select(mask.unsqueeze(2)).MoveToOuterDisposeScope();             // row by row, step by step
    }

    public override int RowOutputSize(HeadSpec spec, FeatureLayout layout, int featureLength) =>
        (layout is ISequenceLayout seq ? seq.Steps(featureLength) : featureLength) * spec.OutputSize;

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder)
    {
        int k = spec.ClassNames.Length;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, spec.ClassNames.Select(n => n.AsMemory()).ToArray());
        builder.AddColumn(spec.Columns.Score, new VectorDataViewType(NumberDataViewType.Single));
        var keyAnn = new DataViewSchema.Annotations.Builder();
        keyAnn.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, k), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        builder.AddColumn(spec.Columns.PredictedLabel, new VectorDataViewType(new KeyDataViewType(typeof(uint), k)), keyAnn.ToAnnotations());
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names)
    {
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.Score, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false);
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.PredictedLabel, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues);
    }

    public override Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow)
    {
        int k = spec.OutputSize;
        return column switch
        {
            OutputColumn.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var row = currentRow().Span;
                var editor = VBufferEditor.Create(ref dst, row.Length);
                row.CopyTo(editor.Values);
                dst = editor.Commit();
            }),
            OutputColumn.PredictedLabel => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
            {
                var row = currentRow().Span;
                int steps = row.Length / k;
                var editor = VBufferEditor.Create(ref dst, steps);
                for (int s = 0; s < steps; s++)
                {
                    var p = row.Slice(s * k, k);
                    int best = 0;
                    for (int i = 1; i < k; i++) if (p[i] > p[best]) best = i;
                    editor.Values[s] = (uint)best + 1;
                }
                dst = editor.Commit();
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
        };
    }
}
