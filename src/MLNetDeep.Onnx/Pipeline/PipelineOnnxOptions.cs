namespace MLNetDeep.Onnx;

/// <summary>Options of <see cref="PipelineOnnxExtensions.ConvertPipelineToOnnx(Microsoft.ML.ModelOperationsCatalog, Microsoft.ML.ITransformer, Microsoft.ML.IDataView, PipelineOnnxOptions?)"/>.</summary>
public sealed class PipelineOnnxOptions
{
    /// <summary>
    /// ONNX operator set of the written graph (the default domain), <see cref="OnnxExportOptions.MinimumOpset"/> to
    /// <see cref="OnnxExportOptions.MaximumOpset"/>. Default 17. ML.NET's steps (converted at opset 12) are rewritten
    /// for it where an operator changed since.
    /// </summary>
    public int Opset { get; set; } = OnnxExportOptions.MinimumOpset;

    /// <summary>
    /// The columns the graph outputs, by their names in the fitted pipeline's output. Null (default): every visible
    /// column written by the first MLNetDeep model or by a step after it (e.g. Score and PredictedLabel), so a label
    /// mapping before the model (MapValueToKey("Label")) is left out and the graph needs no label.
    /// </summary>
    public IReadOnlyList<string>? OutputColumns { get; set; }

    /// <summary>
    /// Start the graph at these columns instead of the pipeline's raw input: the steps up to the last one that writes
    /// any of them are left out, and the columns become graph inputs as they are after that step. For steps ONNX can't
    /// express, e.g. <c>new[] { "Pixels" }</c> to start after <c>LoadImages → ResizeImages → ExtractPixels("Pixels")</c>.
    /// Null (default): the graph starts at the pipeline's input columns.
    /// </summary>
    public IReadOnlyList<string>? InputColumns { get; set; }

    /// <summary>Free text stored as the model's doc_string (null: a description of the exported steps).</summary>
    public string? Description { get; set; }

    /// <summary>ModelProto.model_version written to the file. Default 1.</summary>
    public long ModelVersion { get; set; } = 1;

    internal PipelineOnnxOptions Validate()
    {
        if (Opset < OnnxExportOptions.MinimumOpset || Opset > OnnxExportOptions.MaximumOpset)
            throw new ArgumentOutOfRangeException(nameof(Opset), Opset,
                $"PipelineOnnxOptions.Opset must be between {OnnxExportOptions.MinimumOpset} and {OnnxExportOptions.MaximumOpset}. Received: Opset={Opset}");
        Check(OutputColumns, nameof(OutputColumns));
        Check(InputColumns, nameof(InputColumns));
        return this;
    }

    private static void Check(IReadOnlyList<string>? names, string option)
    {
        if (names is null) return;
        if (names.Count == 0)
            throw new ArgumentException($"PipelineOnnxOptions.{option} must be null (the default) or name at least one column. Received: an empty list.", option);
        if (names.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException($"PipelineOnnxOptions.{option} holds an empty column name. Received: [{string.Join(", ", names.Select(n => $"\"{n}\""))}]", option);
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"PipelineOnnxOptions.{option} names column '{duplicate.Key}' twice.", option);
    }
}
