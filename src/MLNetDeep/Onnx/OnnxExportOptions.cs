namespace MLNetDeep.Onnx;

/// <summary>Options of <see cref="Scoring.DeepTransformer.ExportToOnnx(string, OnnxExportOptions?)"/>.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The lowest opset the exporter writes (ONNX Runtime 1.12+, onnx 1.12's checker).</summary>
    public const int MinimumOpset = 17;
    /// <summary>The highest opset the exporter writes.</summary>
    public const int MaximumOpset = 23;

    /// <summary>
    /// ONNX operator set version (the default domain). Default 17: loadable by ONNX Runtime 1.12 and newer
    /// and checkable by onnx 1.12. Higher opsets (up to <see cref="MaximumOpset"/>) use newer operators where
    /// they exist (e.g. the native <c>Gelu</c> from opset 20).
    /// </summary>
    public int Opset { get; set; } = MinimumOpset;

    /// <summary>
    /// Fold batch normalisation into the preceding convolution / dense layer (default true; fewer nodes,
    /// faster inference). False writes <c>BatchNormalization</c> nodes with the running statistics.
    /// </summary>
    public bool FoldBatchNorm { get; set; } = true;

    /// <summary>Name of the graph input. Null = the model's feature column name (e.g. "Features"), which is what ML.NET's <c>ApplyOnnxModel</c> binds by.</summary>
    public string? InputName { get; set; }

    /// <summary>
    /// Sequence models: add a second graph input <see cref="OnnxNames.Lengths"/> (int32 [N], each row's real step
    /// count) so one batch can hold rows of different lengths, padded to the longest (padding never enters the
    /// recurrence). False (default): every row of a run has the same number of steps and the graph has one input.
    /// Ignored by other families.
    /// </summary>
    public bool SequenceLengthsInput { get; set; }

    /// <summary>
    /// Sequence models: the rows fed are already cut to MaxLength as the transformer cuts them (MLNetDeep's ONNX Runtime
    /// scoring engine does it while padding a batch), so the graph writes no truncation. Internal: a graph for files keeps it.
    /// </summary>
    internal bool InputPreTruncated { get; set; }

    /// <summary>ModelProto.model_version written to the file. Default 1.</summary>
    public long ModelVersion { get; set; } = 1;

    /// <summary>Free text stored as the model's doc_string.</summary>
    public string? Description { get; set; }

    internal OnnxExportOptions Validate()
    {
        if (Opset < MinimumOpset || Opset > MaximumOpset)
            throw new ArgumentOutOfRangeException(nameof(Opset), Opset,
                $"OnnxExportOptions.Opset must be between {MinimumOpset} and {MaximumOpset}. Received: Opset={Opset}");
        if (InputName is not null && string.IsNullOrWhiteSpace(InputName))
            throw new ArgumentException("OnnxExportOptions.InputName must be null (use the feature column name) or a non-empty name.", nameof(InputName));
        return this;
    }

    /// <summary>The ONNX IR version that goes with an opset (IR 8 for opsets 17–18, 9 for 19–20, 10 for 21–22, 11 for 23).</summary>
    internal static long IrVersionFor(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        <= 22 => 10,
        _ => 11,
    };
}
