namespace MLNetDeep.Tasks;

/// <summary>What the network predicts, which decides the label type, loss and output columns.</summary>
public enum PredictionKind
{
    /// <summary>Key-typed label; Score = class probabilities, PredictedLabel = key. Softmax cross-entropy.</summary>
    MulticlassClassification,
    /// <summary>Boolean label; Score = raw margin, Probability, PredictedLabel. Sigmoid cross-entropy.</summary>
    BinaryClassification,
    /// <summary>Single label; Score = prediction. Mean squared error on the standardised label.</summary>
    Regression,
    /// <summary>
    /// One key label per sequence step (a key vector aligned with the sequence); Score = per-step class probabilities
    /// (steps × classes, step-major), PredictedLabel = a key vector with one key per step. Softmax cross-entropy over real steps.
    /// </summary>
    SequenceTagging,
}

/// <summary>The saved description of a model's output: kind, class names and label scaling.</summary>
public sealed class HeadSpec
{
    /// <summary>Task kind.</summary>
    public PredictionKind Kind { get; init; }
    /// <summary>Class names in key order (multiclass), from the label's KeyValues.</summary>
    public string[] ClassNames { get; init; } = Array.Empty<string>();
    /// <summary>Regression: mean subtracted from labels during training.</summary>
    public double LabelMean { get; init; }
    /// <summary>Regression: labels are divided by this during training (1 = no scaling).</summary>
    public double LabelScale { get; init; } = 1;
    /// <summary>Network outputs per row (per step for <see cref="PredictionKind.SequenceTagging"/>).</summary>
    public int OutputSize => Kind is PredictionKind.MulticlassClassification or PredictionKind.SequenceTagging ? ClassNames.Length : 1;
}
