using System.Runtime.InteropServices;

namespace MLNetDeep.Onnx;

/// <summary>
/// The native ONNX Runtime library that ML.NET's OnnxTransformer needs. Microsoft.ML.OnnxTransformer brings only the
/// managed bindings (Microsoft.ML.OnnxRuntime.Managed); without the natives the first use fails with a bare
/// TypeInitializationException from Microsoft.ML.OnnxRuntime.NativeMethods. This checks first and says what to add.
/// </summary>
internal static class OnnxRuntimeNatives
{
    private static bool _found;

    /// <summary>Throws a clear <see cref="InvalidOperationException"/> when the native ONNX Runtime can't be loaded.</summary>
    /// <param name="action">What needed it, e.g. "Saving an MLNetDeep model with mlContext.Model.Save".</param>
    public static void EnsureAvailable(string action)
    {
        if (_found) return;
        var managed = typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly;
        if (NativeLibrary.TryLoad("onnxruntime", managed, null, out _)) { _found = true; return; }
        throw Missing(action, null);
    }

    /// <summary>True for the exceptions ONNX Runtime's managed bindings throw when the native library is missing.</summary>
    public static bool IsMissing(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is DllNotFoundException || (x is TypeInitializationException t && t.TypeName?.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) == true))
                return true;
        return false;
    }

    /// <summary>The clear error for a missing native library.</summary>
    public static InvalidOperationException Missing(string action, Exception? inner) => new(
        $"{action} needs the native ONNX Runtime library (libonnxruntime.so / onnxruntime.dll / libonnxruntime.dylib), which is not " +
        $"in the application's folder ({AppContext.BaseDirectory}). Add the NuGet package Microsoft.ML.OnnxRuntime (version 1.31.1 or " +
        "newer; Microsoft.ML.OnnxRuntime.Gpu for CUDA) to the application that runs this: Microsoft.ML.OnnxTransformer references " +
        "only the managed bindings (Microsoft.ML.OnnxRuntime.Managed).", inner);
}
