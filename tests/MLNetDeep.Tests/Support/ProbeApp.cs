using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Support;

/// <summary>
/// Runs tests/OnnxRuntimeProbe in a separate process (a failed native load can't be undone in this one), from this output
/// folder or from a mirror of it without some files: managed assemblies copied (32 MB; a symbolic link would make the
/// runtime look for natives beside the link's target), the native libraries (LibTorch, 580 MB) linked. Owns a temporary
/// folder, deleted on dispose.
/// </summary>
internal sealed class ProbeApp : IDisposable
{
    private readonly ITestOutputHelper _out;

    public ProbeApp(ITestOutputHelper output, string name)
    {
        _out = output;
        Folder = Path.Combine(Path.GetTempPath(), $"mlnetdeep-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
    }

    /// <summary>The temporary folder (models, zips, mirrors go here).</summary>
    public string Folder { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    /// <summary>Mirrors this output folder into <paramref name="name"/> under <see cref="Folder"/>, leaving out the files <paramref name="leaveOut"/> names.</summary>
    public string Mirror(string name, Func<string, bool> leaveOut)
    {
        var to = Path.Combine(Folder, name);
        Mirror(AppContext.BaseDirectory, to, leaveOut);
        return to;
    }

    private static void Mirror(string from, string to, Func<string, bool> leaveOut)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            var name = Path.GetFileName(file);
            if (leaveOut(name)) continue;
            if (name.EndsWith(".dll", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, name));
            else File.CreateSymbolicLink(Path.Combine(to, name), file);
        }
        foreach (var dir in Directory.GetDirectories(from)) Mirror(dir, Path.Combine(to, Path.GetFileName(dir)), leaveOut);
    }

    /// <summary>Runs the probe in <paramref name="folder"/> (null: this output folder); its exit code and output.</summary>
    public (int Code, string Output) Run(string? folder, params string[] args)
    {
        folder ??= AppContext.BaseDirectory;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(folder, "OnnxRuntimeProbe.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "the probe did not finish in 2 minutes");
        var output = stdout.Result + stderr.Result;
        _out.WriteLine($"{folder} {string.Join(' ', args)}: exit {p.ExitCode}: {output.Trim()}");
        return (p.ExitCode, output);
    }

    /// <summary>The native ONNX Runtime library (libonnxruntime.so, onnxruntime.dll, ...).</summary>
    public static bool IsOnnxRuntimeNative(string fileName) =>
        fileName.StartsWith("libonnxruntime", StringComparison.Ordinal) || fileName.StartsWith("onnxruntime", StringComparison.Ordinal);
}
