using System.Diagnostics;
using System.Reflection;

namespace MLNetDeep.MLNetInternals;

/// <summary>
/// Makes ML.NET's own <c>mlContext.Model.ConvertToOnnx</c> fail loudly on a pipeline holding an MLNetDeep model instead
/// of writing a graph without the network. That converter keeps its ONNX interfaces internal and walks a pipeline back
/// from its end, stopping quietly at the first transformer it doesn't know and declaring that transformer's outputs
/// (Score, PredictedLabel) as graph inputs. It calls <c>Transform</c> on the whole pipeline first, so a model's
/// <c>Transform</c> can see, from its caller, that it is being converted and refuse. Cheap when the converter's assembly
/// was never loaded (a flag); otherwise one stack walk per <c>Transform</c> call (not per row).
/// </summary>
internal static class ConvertToOnnxGuard
{
    /// <summary>The converter's assembly and the class whose methods are on the stack during ConvertToOnnx.</summary>
    internal const string ConverterAssembly = "Microsoft.ML.OnnxConverter";
    internal const string ConverterType = "Microsoft.ML.OnnxExportExtensions";

    private static volatile bool _converterLoaded;

    static ConvertToOnnxGuard()
    {
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) => Note(e.LoadedAssembly);
        foreach (var a in AppDomain.CurrentDomain.GetAssemblies()) Note(a);
    }

    private static void Note(Assembly a)
    {
        if (a.GetName().Name == ConverterAssembly) _converterLoaded = true;
    }

    /// <summary>Throws <see cref="NotSupportedException"/> when called (directly or not) from ML.NET's ConvertToOnnx.</summary>
    public static void ThrowIfInsideMLNetConverter()
    {
        if (!_converterLoaded) return;
        foreach (var frame in new StackTrace(1, false).GetFrames())
            if (frame.GetMethod()?.DeclaringType?.FullName == ConverterType)
                throw new NotSupportedException(
                    "ML.NET's mlContext.Model.ConvertToOnnx can't see MLNetDeep models: it stops quietly at them and would write a graph " +
                    "without the network (whose inputs are the model's outputs, Score and PredictedLabel). Export the whole pipeline with " +
                    "mlContext.Model.ConvertPipelineToOnnx(model, data, path) from the MLNetDeep.Onnx package (ML.NET's steps and the " +
                    "MLNetDeep models in one graph), or the network alone with DeepTransformer.ExportToOnnx(path).");
    }
}
