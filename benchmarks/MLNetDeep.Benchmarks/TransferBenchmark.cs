using System.Diagnostics;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Transfer learning on image files: ML.NET's DnnFeaturizeImage(ResNet18) + SDCA, the CNN from scratch, ResNet18 frozen
/// + head, and fine-tuned. It reads the files with ML.NET's LoadImages, which needs SkiaSharp 2.88 while this project
/// has SkiaSharp 3 (ScottPlot), so it lives in benchmarks/MLNetDeep.ImageBenchmarks; this entry runs that project
/// with the same arguments.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- transfer [--images clipart|fashion] [--split-seeds 1,2,3] ...
/// </summary>
public sealed class TransferBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "transfer";
    /// <inheritdoc />
    public string Description => "pretrained ResNet18 vs ML.NET's DnnFeaturizeImage + SDCA and the scratch CNN on clip-art files (transfer_<a|b|c|d>_accuracy, _seconds); runs benchmarks/MLNetDeep.ImageBenchmarks";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "MLNetDeep.sln"))) root = root.Parent;
        if (root is null)
        {
            Console.Error.WriteLine("transfer: the repository (MLNetDeep.sln) was not found above this program; run " +
                                    "dotnet run -c Release --project benchmarks/MLNetDeep.ImageBenchmarks -- transfer from the repository.");
            return 2;
        }
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = root.FullName, UseShellExecute = false };
        foreach (var a in new[] { "run", "-c", "Release", "--project", "benchmarks/MLNetDeep.ImageBenchmarks", "--", "transfer" }.Concat(args))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        process.WaitForExit();
        return process.ExitCode;
    }
}
