using MLNetDeep.Persistence;

namespace MLNetDeep.Onnx;

/// <summary>One input or output of an exported pipeline graph.</summary>
/// <param name="Name">The ONNX value name (what ONNX Runtime's <c>run</c> takes or returns): the column name, or "Column.output" for an output whose column is also an input.</param>
/// <param name="ColumnName">The pipeline column it holds.</param>
/// <param name="ElementType">ONNX element type: "float", "double", "string", "bool", "uint32" (keys, 1-based, 0 = missing), ...</param>
/// <param name="Shape">Dimensions: rows first ("N", or "1" when the graph takes one row per run), then the values per row (a number, or a name when rows differ in length).</param>
/// <param name="ColumnType">The column's ML.NET type, e.g. "Vector&lt;Single, 784&gt;" or "Key&lt;UInt32, 0-9&gt;".</param>
public sealed record PipelineOnnxColumn(string Name, string ColumnName, string ElementType, IReadOnlyList<string> Shape, string ColumnType);

/// <summary>
/// A fitted ML.NET pipeline as one ONNX graph (from <see cref="PipelineOnnxExtensions.ConvertPipelineToOnnx(Microsoft.ML.ModelOperationsCatalog, Microsoft.ML.ITransformer, Microsoft.ML.IDataView, PipelineOnnxOptions?)"/>):
/// the serialised model and a description of its inputs and outputs.
/// </summary>
public sealed class PipelineOnnxModel
{
    private readonly byte[] _bytes;

    internal PipelineOnnxModel(byte[] bytes, IReadOnlyList<PipelineOnnxColumn> inputs, IReadOnlyList<PipelineOnnxColumn> outputs, int opset, bool oneRowPerRun, IReadOnlyList<string> steps)
    {
        _bytes = bytes;
        Inputs = inputs;
        Outputs = outputs;
        Opset = opset;
        OneRowPerRun = oneRowPerRun;
        Steps = steps;
    }

    /// <summary>The graph's inputs: the raw columns (or <see cref="PipelineOnnxOptions.InputColumns"/>) the outputs need.</summary>
    public IReadOnlyList<PipelineOnnxColumn> Inputs { get; }

    /// <summary>The graph's outputs, in the order of <see cref="PipelineOnnxOptions.OutputColumns"/> (or of the pipeline's output schema).</summary>
    public IReadOnlyList<PipelineOnnxColumn> Outputs { get; }

    /// <summary>The default-domain opset written.</summary>
    public int Opset { get; }

    /// <summary>
    /// True when a column on the way is a variable-size vector (tokens, characters): rows then differ in length, so the
    /// graph's row dimension is 1 and ONNX Runtime takes one row per run. False: any number of rows per run.
    /// </summary>
    public bool OneRowPerRun { get; }

    /// <summary>The pipeline's steps, one line each: which were exported and which were left out (before the graph's start).</summary>
    public IReadOnlyList<string> Steps { get; }

    /// <summary>Size of the serialised model in bytes.</summary>
    public int Length => _bytes.Length;

    /// <summary>A copy of the serialised model (the bytes of a .onnx file).</summary>
    public byte[] ToArray() => (byte[])_bytes.Clone();

    /// <summary>Writes the model to a file, atomically (a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, _bytes);
    }

    /// <summary>Writes the model to a stream.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(_bytes);
    }
}
