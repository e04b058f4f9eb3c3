using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

using MLNetDeep.Training;

namespace MLNetDeep.Tasks;

/// <summary>Regression: Single label standardised for training, squared error, Score = prediction in the label's units.</summary>
internal sealed class RegressionHead : TaskHead
{
    public override PredictionKind Kind => PredictionKind.Regression;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not NumberDataViewType || (column.Type.RawType != typeof(float) && column.Type.RawType != typeof(double)))
            throw LabelTypeError(column, "regression trainers need a Single label",
                $"Convert it with mlContext.Transforms.Conversion.ConvertType(\"{column.Name}\", outputKind: DataKind.Single).");
        return Array.Empty<string>();
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        Func<float> read;
        if (column.Type.RawType == typeof(double))
        {
            var g = row.GetGetter<double>(column);
            double d = 0;
            read = () => { g(ref d); return (float)d; };
        }
        else
        {
            var g = row.GetGetter<float>(column);
            float f = 0;
            read = () => { g(ref f); return f; };
        }
        return r =>
        {
            float v = read();
            if (!float.IsFinite(v))
                throw new InvalidDataException($"Label column '{column.Name}', row {r}: value {v} is not finite. " +
                                               "Filter rows with missing labels (mlContext.Data.FilterRowsByMissingValues) or fix the data.");
            return v;
        };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        double mean = 0, m2 = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double d = labels[i] - mean;
            mean += d / (i + 1);
            m2 += d * (labels[i] - mean);
        }
        double std = Math.Sqrt(m2 / Math.Max(1, labels.Length));
        // Standardising the target keeps the output layer's scale near 1 whatever the label's units.
        return new HeadSpec { Kind = Kind, LabelMean = mean, LabelScale = std > 1e-12 ? std : 1 };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) =>
        (tensor(labels).to(ScalarType.Float64).sub(spec.LabelMean).div(spec.LabelScale)).to(ScalarType.Float32);

    public override Tensor Loss(Tensor output, Tensor labels) => (output.squeeze(1) - labels).pow(2);

    public override bool HasClasses => false;

    public override IReadOnlyList<MetricInfo> MetricInfos { get; } = new[] { new MetricInfo("rmse", HigherIsBetter: false), new MetricInfo("mae", HigherIsBetter: false) };

    public override int OutputSize(HeadSpec spec) => 1;

    public override IReadOnlyList<OutputColumn> OutputColumns { get; } = new[] { OutputColumn.Score };

    /// <summary>The prediction in label units: raw × label scale + label mean, one per row.</summary>
    internal override void EmitOnnx(Onnx.OnnxHeadWriter w)
    {
        var g = w.G;
        var scaled = g.Node("Mul", new[] { w.Raw, g.FloatConstant("label_scale", (float)w.Spec.LabelScale) }, "scaled");
        var shifted = g.Node("Add", new[] { scaled, g.FloatConstant("label_mean", (float)w.Spec.LabelMean) }, "prediction");
        w.ToRow(shifted, w.Name(OutputColumn.Score));
        w.Output(w.Name(OutputColumn.Score), Onnx.Proto.OnnxDataType.Float, w.RowShape, "Prediction in label units (network output × label scale + label mean).");
    }

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels)
    {
        using var err = (output.squeeze(1) - labels).to(ScalarType.Float64) * spec.LabelScale;
        return new()
        {
            ["rmse"] = err.pow(2).mean().sqrt().item<double>(),
            ["mae"] = err.abs().mean().item<double>(),
        };
    }

    public override Tensor Postprocess(HeadSpec spec, Tensor output) => output * spec.LabelScale + spec.LabelMean;

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder) =>
        builder.AddColumn(spec.Columns.Score, NumberDataViewType.Single);

    public override IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names)
    {
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
    }

    public override Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        OutputColumn.Score => (ValueGetter<float>)((ref float dst) => dst = currentRow().Span[0]),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}
