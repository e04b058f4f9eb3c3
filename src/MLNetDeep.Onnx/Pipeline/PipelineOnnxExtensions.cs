using Microsoft.ML;

namespace MLNetDeep.Onnx;

/// <summary>
/// Whole-pipeline ONNX export: a fitted ML.NET pipeline that contains MLNetDeep models (and the ML.NET transforms before
/// and after them) as one ONNX graph whose inputs are the pipeline's raw input columns and whose outputs are its final
/// columns. ML.NET's own <c>ConvertToOnnx</c> can't see MLNetDeep models (its walk stops quietly at a transformer it
/// doesn't know and writes a graph without the network); use these instead.
/// </summary>
public static class PipelineOnnxExtensions
{
    /// <summary>
    /// Converts a fitted pipeline to one ONNX graph. ML.NET's steps go through ML.NET's OnnxConverter, MLNetDeep's models
    /// through MLNetDeep's exporter. A step ONNX can't express (image loading and resizing, FeaturizeText, CustomMapping, ...)
    /// throws <see cref="PipelineOnnxException"/> naming the step and its columns, with the
    /// <see cref="PipelineOnnxOptions.InputColumns"/> that start the graph after it.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="model">The fitted pipeline (a transformer chain, or a single transformer).</param>
    /// <param name="inputData">Data with the schema the pipeline was fitted on (only its schema is read).</param>
    /// <param name="options">Opset, outputs, where the graph starts.</param>
    public static PipelineOnnxModel ConvertPipelineToOnnx(this ModelOperationsCatalog catalog, ITransformer model, IDataView inputData, PipelineOnnxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputData);
        return new PipelineOnnxWriter(catalog, (options ?? new PipelineOnnxOptions()).Validate()).Write(model, inputData.Schema);
    }

    /// <summary>Converts a fitted pipeline to one ONNX graph (see the overload returning <see cref="PipelineOnnxModel"/>) and writes it to <paramref name="path"/> atomically.</summary>
    public static PipelineOnnxModel ConvertPipelineToOnnx(this ModelOperationsCatalog catalog, ITransformer model, IDataView inputData, string path, PipelineOnnxOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var exported = catalog.ConvertPipelineToOnnx(model, inputData, options);
        exported.Save(path);
        return exported;
    }

    /// <summary>Converts a fitted pipeline to one ONNX graph (see the overload returning <see cref="PipelineOnnxModel"/>) and writes it to <paramref name="stream"/>.</summary>
    public static PipelineOnnxModel ConvertPipelineToOnnx(this ModelOperationsCatalog catalog, ITransformer model, IDataView inputData, Stream stream, PipelineOnnxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var exported = catalog.ConvertPipelineToOnnx(model, inputData, options);
        exported.WriteTo(stream);
        return exported;
    }
}
