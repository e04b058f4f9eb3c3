using Microsoft.ML;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Inference;

/// <summary>
/// An application without ONNX Runtime's native library, and one without the MLNetDeep.Onnx assembly at all: under Auto a
/// model scores with LibTorch and says why; asking for OnnxRuntime fails naming what to add. Run in separate processes
/// (tests/OnnxRuntimeProbe) in a mirror of this output folder with those files left out.
/// </summary>
[Trait("Category", "Training")]
public sealed class ScoringEngineWithoutOnnxRuntimeTests : IDisposable
{
    private readonly ProbeApp _probe;

    public ScoringEngineWithoutOnnxRuntimeTests(ITestOutputHelper output) => _probe = new ProbeApp(output, "ort-engine");

    public void Dispose() => _probe.Dispose();

    [Fact]
    public void Auto_FallsBackToLibTorch_AndOnnxRuntime_NamesThePackageToAdd()
    {
        var ml = new MLContext(seed: 1);
        var model = Tiny.Multiclass(ml, Tiny.Options()).Fit(TestData.TrainView(ml, 128)).Deep();
        var path = Path.Combine(_probe.Folder, "model.mlnd");
        model.Save(path);

        var (code, output) = _probe.Run(null, "score", path, "Auto"); // everything there: ONNX Runtime
        Assert.Equal(0, code);
        Assert.Contains("scored 20 rows", output);
        Assert.Contains("engine: OnnxRuntime", output);

        var mirror = _probe.Mirror("app", ProbeApp.IsOnnxRuntimeNative);
        (code, output) = _probe.Run(mirror, "score", path, "Auto");
        Assert.Equal(0, code);
        Assert.Contains("scored 20 rows", output);
        Assert.Contains("engine: LibTorch", output);
        Assert.Contains("reason: LibTorch (ScoringEngine = Auto; ONNX Runtime is not used because Scoring an MLNetDeep model with ONNX Runtime " +
                        "(DeepTransformer.ScoringEngine) needs the native ONNX Runtime library", output);
        (code, output) = _probe.Run(mirror, "score", path, "OnnxRuntime");
        Assert.Equal(3, code);
        Assert.Contains("System.InvalidOperationException: ScoringEngine = OnnxRuntime can't score this model: Scoring an MLNetDeep model with ONNX Runtime", output);
        Assert.Contains("Add the NuGet package Microsoft.ML.OnnxRuntime", output);
        Assert.DoesNotContain("TypeInitializationException", output);

        // Without MLNetDeep.Onnx (and so without a dependency manifest that lists it: the host then loads what the folder holds).
        File.Delete(Path.Combine(mirror, "MLNetDeep.Onnx.dll"));
        File.Delete(Path.Combine(mirror, "OnnxRuntimeProbe.deps.json"));
        (code, output) = _probe.Run(mirror, "score", path, "Auto");
        Assert.Equal(0, code);
        Assert.Contains("engine: LibTorch", output);
        Assert.Contains("reason: LibTorch (ScoringEngine = Auto; ONNX Runtime is not used because the MLNetDeep.Onnx package is not part of the application", output);
        (code, output) = _probe.Run(mirror, "score", path, "OnnxRuntime");
        Assert.Equal(3, code);
        Assert.Contains("System.InvalidOperationException: ScoringEngine = OnnxRuntime can't score this model: the MLNetDeep.Onnx package is not part of the application " +
                        "(add it, with Microsoft.ML.OnnxRuntime, to score with ONNX Runtime)", output);
    }
}
