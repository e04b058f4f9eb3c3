namespace MLNetDeep.Onnx;

/// <summary>
/// A fitted pipeline can't be exported as one ONNX graph: a step ONNX can't express, a column the graph can't reach,
/// or an option that doesn't fit the pipeline. The message names the step, the column and the fix.
/// </summary>
public sealed class PipelineOnnxException : Exception
{
    internal PipelineOnnxException(string message, int? stepIndex = null, string? column = null, Exception? inner = null)
        : base(message, inner)
    {
        StepIndex = stepIndex;
        Column = column;
    }

    /// <summary>Index of the step in the flattened pipeline (0 = first transformer) that could not be exported, when one step is to blame.</summary>
    public int? StepIndex { get; }

    /// <summary>The column the problem is about, when there is one.</summary>
    public string? Column { get; }
}
