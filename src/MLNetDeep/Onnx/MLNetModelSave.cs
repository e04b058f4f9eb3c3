using Microsoft.ML;
using MLNetDeep.Scoring;

namespace MLNetDeep.Onnx;

/// <summary>
/// Builds the public ML.NET transformers that stand in for a <see cref="DeepTransformer"/> inside an ML.NET
/// model zip (an OnnxTransformer over the exported graph, plus the transforms that rebuild key columns).
/// Implemented by the MLNetDeep.Onnx package, which references Microsoft.ML.OnnxTransformer; this library
/// stays free of ONNX Runtime.
/// </summary>
internal interface IMLNetSaveRoute
{
    /// <summary>An ML.NET transformer that scores like <paramref name="model"/> and saves with ML.NET's own loaders.</summary>
    ITransformer ToMLNetTransformer(DeepTransformer model, MLContext? mlContext);
}

/// <summary>What <c>mlContext.Model.Save</c> does with a <see cref="DeepTransformer"/>: forwards to the MLNetDeep.Onnx route.</summary>
internal static class MLNetModelSave
{
    /// <summary>The route's type in the MLNetDeep.Onnx assembly (found by name so this library needs no reference to it).</summary>
    internal const string RouteTypeName = "MLNetDeep.Onnx.OnnxSaveRoute, MLNetDeep.Onnx";

    private static IMLNetSaveRoute? _route;

    /// <summary>The route, or null when the MLNetDeep.Onnx assembly is not part of the application.</summary>
    internal static IMLNetSaveRoute? Route => _route ??= MLNetInternals.Satellites.Create<IMLNetSaveRoute>(RouteTypeName);

    /// <summary>Saves <paramref name="model"/> into <paramref name="ctx"/> as the route's public ML.NET transformers.</summary>
    public static void Save(DeepTransformer model, ModelSaveContext ctx)
    {
        if (model.Head.SingleGraphOnnxUnsupported(model.Spec) is string why)
            throw new NotSupportedException($"mlContext.Model.Save stores an MLNetDeep model as one ONNX graph, which can't hold this {model.Kind} model: {why}");
        var route = Route ?? throw new NotSupportedException(
            "Saving an MLNetDeep model inside an ML.NET model zip (mlContext.Model.Save) stores it as ONNX, scored by ML.NET's OnnxTransformer. " +
            "Add the MLNetDeep.Onnx package (and Microsoft.ML.OnnxRuntime, which brings the native ONNX Runtime) to the application. " +
            "Alternatively save the model with DeepTransformer.Save(path) (MLNetDeep's own format, which also allows continued training) " +
            "and the rest of the pipeline with mlContext.Model.Save separately.");
        var inner = route.ToMLNetTransformer(model, null);
        ((ICanSaveModel)inner).Save(ctx);
    }
}
