using MLNetDeep.Tasks;
namespace MLNetDeep.Onnx;

/// <summary>
/// Names in an exported MLNetDeep ONNX model: the graph's outputs (the same as the transformer's output
/// columns) and the keys of the model's metadata properties.
/// </summary>
public static class OnnxNames
{
    /// <summary>
    /// Output: multiclass float [N, classes] softmax probabilities; binary float [N] raw margin;
    /// regression float [N] prediction in label units.
    /// </summary>
    public const string Score = "Score";
    /// <summary>Output (binary): float [N] probability of the positive class.</summary>
    public const string Probability = "Probability";
    /// <summary>Output: multiclass string [N] class name (arg-max of Score); binary bool [N] (Score &gt; 0).</summary>
    public const string PredictedLabel = "PredictedLabel";

    /// <summary>The graph output name of an output column role.</summary>
    public static string Of(OutputColumn column) => column switch
    {
        OutputColumn.Score => Score,
        OutputColumn.PredictedLabel => PredictedLabel,
        OutputColumn.Probability => Probability,
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Unknown output column."),
    };

    /// <summary>
    /// Input of sequence models exported with <see cref="OnnxExportOptions.SequenceLengthsInput"/>: int32 [N], the
    /// real number of steps of each row (1 to the padded length).
    /// </summary>
    public const string Lengths = "Lengths";
    /// <summary>Padded single-row graph (inside a saved ML.NET model): the row's values, padded to the graph's width.</summary>
    internal const string PaddedValues = "__MLNetDeep_PaddedValues";
    /// <summary>Padded single-row graph: the row's real number of values (int32 [1]).</summary>
    internal const string ValueCount = "__MLNetDeep_ValueCount";

    /// <summary>Metadata key: the task, a <see cref="Tasks.PredictionKind"/> name.</summary>
    public const string PredictionKindKey = "MLNetDeep.PredictionKind";
    /// <summary>Metadata key: class names in score order, a JSON array of strings (multiclass; ["False","True"] for binary).</summary>
    public const string ClassNamesKey = "MLNetDeep.ClassNames";
    /// <summary>Metadata key: the feature column the model was trained on.</summary>
    public const string FeatureColumnKey = "MLNetDeep.FeatureColumnName";
    /// <summary>Metadata key: the per-row input shape before flattening, e.g. "1x28x28" (channels x height x width).</summary>
    public const string InputShapeKey = "MLNetDeep.InputShape";
    /// <summary>Metadata key: the graph's output names, comma separated.</summary>
    public const string OutputsKey = "MLNetDeep.Outputs";
    /// <summary>Metadata key: the network architecture as MLNetDeep's JSON.</summary>
    public const string ArchitectureKey = "MLNetDeep.Architecture";
    /// <summary>Metadata key: regression label mean and scale already applied to Score, "mean;scale".</summary>
    public const string LabelScalingKey = "MLNetDeep.LabelScaling";
}
