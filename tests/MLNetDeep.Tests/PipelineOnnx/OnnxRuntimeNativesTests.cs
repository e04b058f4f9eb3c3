using Microsoft.ML;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>
/// An application without the native ONNX Runtime (it referenced Microsoft.ML.OnnxTransformer but not
/// Microsoft.ML.OnnxRuntime): Model.Save of an MLNetDeep model, and LoadChecked of a zip holding one, say which package to
/// add instead of ONNX Runtime's bare TypeInitializationException. Run in a separate process, in a mirror of this output
/// folder without libonnxruntime (<see cref="ProbeApp"/>).
/// </summary>
[Trait("Category", "Training")]
public sealed class OnnxRuntimeNativesTests : IDisposable
{
    private readonly ProbeApp _probe;

    public OnnxRuntimeNativesTests(ITestOutputHelper output) => _probe = new ProbeApp(output, "ort-natives");

    public void Dispose() => _probe.Dispose();

    [Fact]
    public void Model_Save_and_LoadChecked_without_the_native_library_name_the_package_to_add()
    {
        var ml = new MLContext(seed: 1);
        var model = Tiny.Multiclass(ml, Tiny.Options()).Fit(TestData.TrainView(ml, 128)).Deep();
        var path = Path.Combine(_probe.Folder, "model.mlnd");
        model.Save(path);

        var zip = Path.Combine(_probe.Folder, "model.zip");

        var (okCode, okOutput) = _probe.Run(null, "save", path, zip);   // with the natives: saves and loads
        Assert.Equal(0, okCode);
        Assert.Contains("saved", okOutput);
        Assert.Contains("loaded", _probe.Run(null, "load", zip).Output);

        var mirror = _probe.Mirror("app", ProbeApp.IsOnnxRuntimeNative);
        Assert.Empty(Directory.GetFiles(mirror, "libonnxruntime*", SearchOption.AllDirectories));
        foreach (var (args, action) in new[] { (new[] { "save", path, Path.Combine(_probe.Folder, "other.zip") }, "Saving an MLNetDeep model"), (new[] { "load", zip }, "Loading '") })
        {
            var (code, output) = _probe.Run(mirror, args);
            Assert.Equal(3, code);
            Assert.Contains("System.InvalidOperationException: " + action, output);
            Assert.Contains("native ONNX Runtime", output);
            Assert.Contains("Add the NuGet package Microsoft.ML.OnnxRuntime", output);
            Assert.DoesNotContain("TypeInitializationException", output);
        }
    }
}
