using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MLNetDeep.Training;

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
        PredictionKind.SequenceToSequence => new Seq2SeqHead(),
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

    /// <summary>Per-example loss (no reduction): the plain task loss, as validation reports it.</summary>
    public abstract Tensor Loss(Tensor output, Tensor labels);

    /// <summary>
    /// The batch's training loss: the task loss with label smoothing (<paramref name="labelSmoothing"/> &gt; 0) and per-class
    /// weights (<paramref name="classWeights"/>, in key order) when set, example-weighted. Per-row tasks weight each row's
    /// loss by its class's weight times its example weight; tagging weights each step by its tag's weight.
    /// </summary>
    public virtual Tensor TrainingLoss(Tensor output, Tensor labels, Tensor? exampleWeights, double labelSmoothing, Tensor? classWeights)
    {
        var perExample = labelSmoothing > 0 ? SmoothedLoss(output, labels, labelSmoothing) : Loss(output, labels);
        if (classWeights is null) return Reduce(perExample, exampleWeights);
        var byClass = classWeights.index_select(0, ClassIndex(labels));
        return Reduce(perExample, exampleWeights is null ? byClass : byClass * exampleWeights);
    }

    /// <summary>Per-example loss with label smoothing ε; tasks without classes refuse it at setup (<see cref="HasClasses"/>).</summary>
    protected virtual Tensor SmoothedLoss(Tensor output, Tensor labels, double epsilon) =>
        throw new NotSupportedException($"{Kind} has no label smoothing.");

    /// <summary>The class index of each label (for class weights).</summary>
    protected virtual Tensor ClassIndex(Tensor labels) => labels;

    /// <summary>True when labels are classes (label smoothing and class weights apply).</summary>
    public virtual bool HasClasses => true;

    /// <summary>Number of classes class weights are given for (binary: 2, in the order [negative, positive]).</summary>
    public virtual int WeightedClassCount(HeadSpec spec) => spec.ClassNames.Length;

    /// <summary>The validation metrics this task reports every epoch, with their direction.</summary>
    public abstract IReadOnlyList<MetricInfo> MetricInfos { get; }

    /// <summary>The metric called <paramref name="name"/>; throws naming <paramref name="option"/> and the task's metrics when there is none.</summary>
    public MetricInfo Metric(string name, string option) =>
        MetricInfos.FirstOrDefault(m => m.Name == name) ?? throw new ArgumentException(
            $"{option}: a {Kind} model reports no validation metric '{name}'. Received: \"{name}\". " +
            $"Its metrics: {string.Join(", ", MetricInfos.Select(m => $"Monitored.ValidationMetric(\"{m.Name}\")"))}; or Monitored.ValidationLoss / Monitored.TrainingLoss.", option);

    /// <summary>Network outputs per row (per step for tagging).</summary>
    public abstract int OutputSize(HeadSpec spec);

    /// <summary>Validation metrics from outputs and labels (both over the whole validation set).</summary>
    public abstract Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels);

    /// <summary>Maps raw network output [B, outputs] to what the output columns hold.</summary>
    public abstract Tensor Postprocess(HeadSpec spec, Tensor output);

    /// <summary>The output columns (name, type, annotations).</summary>
    public abstract void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder);

    /// <summary>The output columns as ML.NET SchemaShape columns, for estimator schema propagation.</summary>
    public abstract IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names);

    /// <summary>A getter for an output column (one of <see cref="OutputColumns"/>) that reads the current row's postprocessed outputs.</summary>
    public abstract Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow);

    /// <summary>The output columns this task writes, in schema order.</summary>
    public abstract IReadOnlyList<OutputColumn> OutputColumns { get; }

    /// <summary>Writes the exported graph's nodes and outputs that turn the raw network output into this task's outputs.</summary>
    internal abstract void EmitOnnx(Onnx.OnnxHeadWriter w);

    /// <summary>The exported graph's output names for a graph form, in <see cref="OutputColumns"/> order.</summary>
    internal virtual string[] OnnxOutputNames(Onnx.OnnxGraphForm form) =>
        OutputColumns.Select(c => form == Onnx.OnnxGraphForm.Batch || IsVectorPerRow(c) ? Onnx.OnnxNames.Of(c) : Onnx.OnnxExporter.SingleRowScalarPrefix + Onnx.OnnxNames.Of(c)).ToArray();

    /// <summary>True when the column holds a known-size vector per row (then single-row graphs declare it as such, not as a one-element tensor).</summary>
    internal virtual bool IsVectorPerRow(OutputColumn column) => false;

    /// <summary>The output column called <paramref name="name"/> in <paramref name="spec"/>'s naming, or null.</summary>
    public OutputColumn? ColumnNamed(HeadSpec spec, string name) =>
        OutputColumns.Cast<OutputColumn?>().FirstOrDefault(c => spec.Columns.NameOf(c!.Value) == name);

    /// <summary>True when the label column holds one label per sequence step (tagging); labels are then read with <see cref="StepLabels"/>.</summary>
    public virtual bool PerStepLabels => false;

    /// <summary>
    /// Per-step heads: true when a row's step labels pair up with its feature steps (tagging: one label per step, checked
    /// when the data is read); false when the label sequence has a length of its own (sequence-to-sequence).
    /// </summary>
    public virtual bool StepLabelsAlignWithFeatures => true;

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

    /// <summary>
    /// Scores a batch (eval mode, no gradients): the rows' output values laid end to end, <see cref="RowOutputSize"/> per row.
    /// Default: the network's forward pass and <see cref="Postprocess(HeadSpec, Tensor, Tensor?)"/>; tasks whose prediction is
    /// not one forward pass (decoding a sequence) override it.
    /// </summary>
    public virtual Tensor ScoreBatch(HeadSpec spec, Models.DeepNetwork network, Tensor input, Tensor? lengths) =>
        Postprocess(spec, network.Forward(input, lengths), lengths);

    /// <summary>
    /// Why the single-graph ONNX export (<c>ExportToOnnx</c>, <c>mlContext.Model.Save</c>) can't express this task's
    /// prediction, naming the alternatives; null when it can.
    /// </summary>
    public virtual string? SingleGraphOnnxUnsupported(HeadSpec spec) => null;

    /// <summary>
    /// The spec a warm-started run trains with, from the saved model's: its classes and label scaling with this run's
    /// output column names (and, where the task has them, this run's scoring settings).
    /// </summary>
    public virtual HeadSpec ForWarmStart(HeadSpec saved, OutputColumnNames columns) => saved.WithColumns(columns);

    /// <summary>Weighted mean of per-example losses.</summary>
    public static Tensor Reduce(Tensor perExample, Tensor? weights) =>
        weights is null ? perExample.mean() : (perExample * weights).sum() / weights.sum().clamp_min(1e-12);

    protected static Exception LabelTypeError(DataViewSchema.Column column, string need, string fix) => new ArgumentException(
        $"Label column '{column.Name}' has type {column.Type}; {need}. {fix}", column.Name);
}
