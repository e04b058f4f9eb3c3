using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

using MLNetDeep.Training;

namespace MLNetDeep.Tasks;

/// <summary>Binary classification: Boolean label, sigmoid cross-entropy on the margin, Score = margin, Probability, PredictedLabel.</summary>
internal sealed class BinaryHead : TaskHead
{
    public override PredictionKind Kind => PredictionKind.BinaryClassification;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not BooleanDataViewType)
            throw LabelTypeError(column, "binary trainers need a Boolean label",
                "Convert it before the trainer, e.g. mlContext.Transforms.CustomMapping or a Boolean property in your input class.");
        return new[] { "False", "True" };
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<bool>(column);
        bool value = false;
        return _ => { getter(ref value); return value ? 1f : 0f; };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        bool hasPos = false, hasNeg = false;
        foreach (var l in labels) { if (l > 0) hasPos = true; else hasNeg = true; }
        if (!hasPos || !hasNeg)
            throw new InvalidDataException(
                $"Label column '{labelColumn}' is {(hasPos ? "true" : "false")} in all {labels.Length} training rows; a binary classifier needs both classes.");
        return new HeadSpec { Kind = Kind };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) => tensor(labels);

    public override Tensor Loss(Tensor output, Tensor labels) =>
        F.binary_cross_entropy_with_logits(output.squeeze(1), labels, reduction: nn.Reduction.None);

    /// <summary>Targets become ε/2 and 1 − ε/2.</summary>
    protected override Tensor SmoothedLoss(Tensor output, Tensor labels, double epsilon) =>
        F.binary_cross_entropy_with_logits(output.squeeze(1), labels * (1 - epsilon) + epsilon / 2, reduction: nn.Reduction.None);

    protected override Tensor ClassIndex(Tensor labels) => labels.gt(0).to(ScalarType.Int64);

    public override int WeightedClassCount(HeadSpec spec) => 2;

    public override IReadOnlyList<MetricInfo> MetricInfos { get; } = new[] { new MetricInfo("accuracy", HigherIsBetter: true) };

    public override int OutputSize(HeadSpec spec) => 1;

    public override IReadOnlyList<OutputColumn> OutputColumns { get; } = new[] { OutputColumn.Score, OutputColumn.Probability, OutputColumn.PredictedLabel };

    /// <summary>The margin, its sigmoid and Score &gt; 0, one per row.</summary>
    internal override void EmitOnnx(Onnx.OnnxHeadWriter w)
    {
        var g = w.G;
        var score = w.ToRow(w.Raw, w.Name(OutputColumn.Score));
        g.Node("Sigmoid", new[] { score }, new[] { w.Name(OutputColumn.Probability) });
        g.Node("Greater", new[] { score, g.FloatConstant("zero", 0f) }, new[] { w.Name(OutputColumn.PredictedLabel) });
        w.Output(w.Name(OutputColumn.Score), Onnx.Proto.OnnxDataType.Float, w.RowShape, "Raw margin (logit); positive means the True class.");
        w.Output(w.Name(OutputColumn.Probability), Onnx.Proto.OnnxDataType.Float, w.RowShape, "Probability of the True class (sigmoid of Score).");
        w.Output(w.Name(OutputColumn.PredictedLabel), Onnx.Proto.OnnxDataType.Bool, w.RowShape, "Score > 0.");
    }

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels) => new()
    {
        ["accuracy"] = output.squeeze(1).gt(0).to(ScalarType.Float32).eq(labels).to(ScalarType.Float64).mean().item<double>(),
    };

    public override Tensor Postprocess(HeadSpec spec, Tensor output) => output.alias();

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder)
    {
        builder.AddColumn(spec.Columns.Score, NumberDataViewType.Single);
        builder.AddColumn(spec.Columns.Probability, NumberDataViewType.Single);
        builder.AddColumn(spec.Columns.PredictedLabel, BooleanDataViewType.Instance);
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names)
    {
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.Probability, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false);
    }

    public override Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        OutputColumn.Score => (ValueGetter<float>)((ref float dst) => dst = currentRow().Span[0]),
        OutputColumn.Probability => (ValueGetter<float>)((ref float dst) => dst = 1f / (1f + MathF.Exp(-currentRow().Span[0]))),
        OutputColumn.PredictedLabel => (ValueGetter<bool>)((ref bool dst) => dst = currentRow().Span[0] > 0),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}
