using System.Text.Json.Serialization;

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
    /// <summary>
    /// A target sequence of its own length per row (a variable-length key vector, e.g. the tokens of the target text);
    /// PredictedLabel = the decoded key vector, Score = its log-probability. Masked cross-entropy with teacher forcing.
    /// </summary>
    SequenceToSequence,
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
    /// <summary>Sequence-to-sequence models: the decoding used when scoring and the output width it needs; null otherwise.</summary>
    public Models.Seq2Seq.Seq2SeqOutput? Seq2Seq { get; init; }
    /// <summary>The names of the output columns the model writes (ML.NET's conventional names unless the trainer's options set others).</summary>
    public OutputColumnNames Columns { get; init; } = new();
    /// <summary>Network outputs per row (per step for <see cref="PredictionKind.SequenceTagging"/>), as the task defines it.</summary>
    [JsonIgnore] public int OutputSize => TaskHead.For(Kind).OutputSize(this);

    /// <summary>This spec with other output column names.</summary>
    internal HeadSpec WithColumns(OutputColumnNames columns) => new()
    {
        Kind = Kind, ClassNames = ClassNames, LabelMean = LabelMean, LabelScale = LabelScale, Seq2Seq = Seq2Seq, Columns = columns,
    };
}

/// <summary>The roles of a model's output columns.</summary>
public enum OutputColumn
{
    /// <summary>Class probabilities (multiclass, per step for tagging), raw margin (binary) or the prediction (regression).</summary>
    Score,
    /// <summary>The predicted class: a key (multiclass; a key per step for tagging) or a Boolean (binary).</summary>
    PredictedLabel,
    /// <summary>Binary: the probability of the positive class.</summary>
    Probability,
}

/// <summary>Names of the output columns (as ML.NET's trainers, configurable per trainer).</summary>
public sealed record OutputColumnNames
{
    /// <summary>The score column. Default "Score".</summary>
    public string Score { get; init; } = ColumnNames.Score;
    /// <summary>The predicted-label column. Default "PredictedLabel".</summary>
    public string PredictedLabel { get; init; } = ColumnNames.PredictedLabel;
    /// <summary>The probability column (binary). Default "Probability".</summary>
    public string Probability { get; init; } = ColumnNames.Probability;

    /// <summary>The name of the column with this role.</summary>
    public string NameOf(OutputColumn column) => column switch
    {
        OutputColumn.Score => Score,
        OutputColumn.PredictedLabel => PredictedLabel,
        OutputColumn.Probability => Probability,
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Unknown output column."),
    };
}
