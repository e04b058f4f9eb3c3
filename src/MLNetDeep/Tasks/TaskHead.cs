using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Tasks;

/// <summary>Reads one row's per-step labels (class indices as floats); valid until the next call.</summary>
internal delegate ReadOnlySpan<float> StepLabelReader(long row);

/// <summary>
/// Task-specific pieces of training and scoring: reading and checking labels, the loss, validation
/// metrics, and the output columns (names and types follow ML.NET's conventions so Evaluate,
/// CrossValidate, PredictionEngine and MapKeyToValue work unchanged).
/// </summary>
internal abstract class TaskHead
{
    public abstract PredictionKind Kind { get; }

    public static TaskHead For(PredictionKind kind) => kind switch
    {
        PredictionKind.MulticlassClassification => new MulticlassHead(),
        PredictionKind.BinaryClassification => new BinaryHead(),
        PredictionKind.Regression => new RegressionHead(),
        PredictionKind.SequenceTagging => new SequenceTaggingHead(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Checks the label column's type; returns the class names (multiclass) or empty.</summary>
    public abstract string[] CheckLabelColumn(DataViewSchema.Column column);

    /// <summary>A reader of one row's label as float (class index for multiclass); throws on missing values.</summary>
    public abstract Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column);

    /// <summary>Checks the label values as a whole and derives the saved spec (e.g. label scaling).</summary>
    public abstract HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels);

    /// <summary>Labels as the loss wants them (long class indices, or standardised floats).</summary>
    public abstract Tensor LabelTensor(HeadSpec spec, float[] labels);

    /// <summary>Per-example loss (no reduction).</summary>
    public abstract Tensor Loss(Tensor output, Tensor labels);

    /// <summary>Validation metrics from outputs and labels (both over the whole validation set).</summary>
    public abstract Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels);

    /// <summary>Maps raw network output [B, outputs] to what the output columns hold.</summary>
    public abstract Tensor Postprocess(HeadSpec spec, Tensor output);

    /// <summary>The output columns (name, type, annotations).</summary>
    public abstract void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder);

    /// <summary>The output columns as ML.NET SchemaShape columns, for estimator schema propagation.</summary>
    public abstract IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column? labelColumn);

    /// <summary>A getter for an output column that reads the current row's postprocessed outputs.</summary>
    public abstract Delegate MakeGetter(HeadSpec spec, string column, Func<ReadOnlyMemory<float>> currentRow);

    /// <summary>True when the label column holds one label per sequence step (tagging); labels are then read with <see cref="StepLabels"/>.</summary>
    public virtual bool PerStepLabels => false;

    /// <summary>Per-step heads: a reader of one row's step labels (class indices); throws on missing values.</summary>
    public virtual StepLabelReader StepLabels(DataViewRow row, DataViewSchema.Column column) =>
        throw new NotSupportedException($"{Kind} reads one label per row.");

    /// <summary>Per-step heads: labels of all rows (laid end to end, row i at offsets[i]..offsets[i+1]) as the loss wants them.</summary>
    public virtual Tensor StepLabelTensor(HeadSpec spec, float[] labels, long[] offsets) =>
        throw new NotSupportedException($"{Kind} reads one label per row.");

    /// <summary>Output values the scoring columns hold for a row of <paramref name="featureLength"/> feature values.</summary>
    public virtual int RowOutputSize(HeadSpec spec, Data.FeatureLayout layout, int featureLength) => spec.OutputSize;

    /// <summary>Maps raw output to the rows' output values laid end to end (<see cref="RowOutputSize"/> per row); lengths = per-row steps or null.</summary>
    public virtual Tensor Postprocess(HeadSpec spec, Tensor output, Tensor? lengths) => Postprocess(spec, output);

    /// <summary>Weighted mean of per-example losses.</summary>
    public static Tensor Reduce(Tensor perExample, Tensor? weights) =>
        weights is null ? perExample.mean() : (perExample * weights).sum() / weights.sum().clamp_min(1e-12);

    protected static Exception LabelTypeError(DataViewSchema.Column column, string need, string fix) => new ArgumentException(
        $"Label column '{column.Name}' has type {column.Type}; {need}. {fix}", column.Name);
}
