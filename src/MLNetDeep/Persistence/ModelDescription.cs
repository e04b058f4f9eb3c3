using MLNetDeep.Models;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

namespace MLNetDeep.Persistence;

/// <summary>Everything about a trained model except its weights: saved as JSON in the model file.</summary>
public sealed record ModelDescription
{
    /// <summary>File-format version this description was written with.</summary>
    public int FormatVersion { get; init; } = ModelFile.CurrentFormatVersion;
    /// <summary>MLNetDeep version that wrote the file.</summary>
    public string LibraryVersion { get; init; } = typeof(ModelDescription).Assembly.GetName().Version?.ToString() ?? "";
    /// <summary>The network architecture (rebuilt on load).</summary>
    public NetworkArchitecture Architecture { get; init; } = null!;
    /// <summary>Task kind, class names, label scaling.</summary>
    public HeadSpec Head { get; init; } = null!;
    /// <summary>Feature column the model reads.</summary>
    public string FeatureColumnName { get; init; } = "Features";
    /// <summary>Rows per forward pass in Transform.</summary>
    public int ScoringBatchSize { get; init; } = 256;
    /// <summary>
    /// Values per row of the training feature column when it was a known-size vector; null when it was variable-size
    /// (or the file predates this field). Saving inside an ML.NET model uses it as the ONNX graph's fixed input width.
    /// </summary>
    public int? FeatureVectorSize { get; init; }
    /// <summary>Values in the longest training (or validation) row: the input width a saved ML.NET model of a variable-length model without MaxLength is sized for.</summary>
    public long? LongestRowValues { get; init; }
    /// <summary>
    /// How the Byte feature column the model was trained on was scaled (<see cref="Data.DataOptions.ByteScaling"/>); scoring a
    /// Byte column applies it again. Null when the column was not Byte or the values were used as they are.
    /// </summary>
    public Data.ByteScaling? ByteScaling { get; init; }
    /// <summary>What scores the model (<see cref="Inference.ScoringEngine"/>); files without it score with Auto.</summary>
    public Inference.ScoringEngine ScoringEngine { get; init; }
    /// <summary>Training history.</summary>
    public TrainingHistory History { get; init; } = new();

    /// <summary>This description with another head spec (e.g. other scoring settings); everything else is shared.</summary>
    internal ModelDescription WithHead(HeadSpec head) => this with { Head = head };

    /// <summary>This description with another scoring engine; everything else is shared.</summary>
    internal ModelDescription WithScoringEngine(Inference.ScoringEngine engine) => this with { ScoringEngine = engine };
}
