using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>
/// An application without the native ONNX Runtime (it referenced Microsoft.ML.OnnxTransformer but not
/// Microsoft.ML.OnnxRuntime): Model.Save of an MLNetDeep model, and LoadChecked of a zip holding one, say which package to
/// add instead of ONNX Runtime's bare TypeInitializationException. Run in a separate process (a failed native load can't be undone in this one), in a
/// mirror of this output folder without libonnxruntime: managed assemblies copied (32 MB; a symbolic link would make the
/// runtime look for natives beside the link's target), the native libraries (LibTorch, 580 MB) linked.
/// </summary>
[Trait("Category", "Training")]
public sealed class OnnxRuntimeNativesTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-ort-natives-" + Guid.NewGuid().ToString("N"));

    public OnnxRuntimeNativesTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Mirror(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            var name = Path.GetFileName(file);
            if (name.StartsWith("libonnxruntime", StringComparison.Ordinal) || name.StartsWith("onnxruntime", StringComparison.Ordinal)) continue;
            if (name.EndsWith(".dll", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, name));
            else File.CreateSymbolicLink(Path.Combine(to, name), file);
        }
        foreach (var dir in Directory.GetDirectories(from)) Mirror(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    private (int Code, string Output) Probe(string folder, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(folder, "OnnxRuntimeProbe.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "the probe did not finish in 2 minutes");
        var output = stdout.Result + stderr.Result;
        _out.WriteLine($"{folder}: exit {p.ExitCode}: {output.Trim()}");
        return (p.ExitCode, output);
    }

    [Fact]
    public void Model_Save_and_LoadChecked_without_the_native_library_name_the_package_to_add()
    {
        var ml = new MLContext(seed: 1);
        var model = Tiny.Multiclass(ml, Tiny.Options()).Fit(TestData.TrainView(ml, 128)).Deep();
        var path = Path.Combine(_dir, "model.mlnd");
        model.Save(path);

        var zip = Path.Combine(_dir, "model.zip");

        var (okCode, okOutput) = Probe(AppContext.BaseDirectory, "save", path, zip);   // with the natives: saves and loads
        Assert.Equal(0, okCode);
        Assert.Contains("saved", okOutput);
        Assert.Contains("loaded", Probe(AppContext.BaseDirectory, "load", zip).Output);

        var mirror = Path.Combine(_dir, "app");
        Mirror(AppContext.BaseDirectory, mirror);
        Assert.Empty(Directory.GetFiles(mirror, "libonnxruntime*", SearchOption.AllDirectories));
        foreach (var (args, action) in new[] { (new[] { "save", path, Path.Combine(_dir, "other.zip") }, "Saving an MLNetDeep model"), (new[] { "load", zip }, "Loading '") })
        {
            var (code, output) = Probe(mirror, args);
            Assert.Equal(3, code);
            Assert.Contains("System.InvalidOperationException: " + action, output);
            Assert.Contains("native ONNX Runtime", output);
            Assert.Contains("Add the NuGet package Microsoft.ML.OnnxRuntime", output);
            Assert.DoesNotContain("TypeInitializationException", output);
        }
    }
}
