namespace MLNetDeep.Tasks;

/// <summary>ML.NET's conventional column and annotation names used by MLNetDeep's output columns.</summary>
public static class ColumnNames
{
    /// <summary>Scores: class probabilities (multiclass), raw margin (binary) or the prediction (regression).</summary>
    public const string Score = "Score";
    /// <summary>Predicted class: a key (multiclass) or Boolean (binary).</summary>
    public const string PredictedLabel = "PredictedLabel";
    /// <summary>Binary: probability of the positive class.</summary>
    public const string Probability = "Probability";
    internal const string SlotNames = "SlotNames";
    internal const string KeyValues = "KeyValues";
}
