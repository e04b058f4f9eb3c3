using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Data modes (issue #15): the reference CNN on Fashion-MNIST read from ML.NET binary IDataView files on disk, trained
/// (a) in memory from a float column, (b) in memory from a byte column (uint8 tensor, scaled 1/255 per batch), (c) and
/// (d) streamed from the file every epoch (float and byte column) with a small memory budget: below the float data's
/// size, so Auto picks streaming for the float column (the byte column is streamed by request). Each mode runs in its own process, so its peak RSS (VmHWM) is its own; RSS is also sampled after
/// every epoch. Also: what handing a prepared batch to the training thread costs (a tensor made on the worker vs a
/// managed buffer copied into a tensor there).
/// </summary>
public sealed class DataBenchmark : IBenchmark
{
    public string Name => "data";
    public string Description =>
        "data modes: reference CNN from binary IDataView files, in memory (float, byte) vs streaming under a small budget: rows/s, ratio, " +
        "peak RSS, RSS per epoch [--train N --epochs E --test N --budget-mb M --plot PATH --modes memory_float,stream_float,... --gc-before-sample]";

    private const string GcBeforeSample = "MLNETDEEP_BENCH_GC_BEFORE_SAMPLE";
    private static readonly string[] Modes = { "memory_float", "memory_byte", "stream_float", "stream_byte" };

    public int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child") return Child(args);
        int trainRows = Report.Arg(args, "--train", 60000), epochs = Report.Arg(args, "--epochs", 3), testRows = Report.Arg(args, "--test", 10000);
        int budgetMb = Report.Arg(args, "--budget-mb", 64);
        string? plot = StringArg(args, "--plot");
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-data-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var ml = new MLContext(seed: 1);
            Save(ml, ml.Data.LoadFromEnumerable(FashionMnist.Read(train: true, take: trainRows)), Path.Combine(dir, "train_float.idv"));
            Save(ml, ml.Data.LoadFromEnumerable(FashionMnist.ReadBytes(train: true, take: trainRows)), Path.Combine(dir, "train_byte.idv"));
            Save(ml, ml.Data.LoadFromEnumerable(FashionMnist.Read(train: false, take: testRows)), Path.Combine(dir, "test_float.idv"));
            Save(ml, ml.Data.LoadFromEnumerable(FashionMnist.ReadBytes(train: false, take: testRows)), Path.Combine(dir, "test_byte.idv"));
            double dataMb = trainRows * (784 * 4 + 8) / 1e6;
            Console.WriteLine($"# reference CNN, {trainRows} train rows ({dataMb:F0} MB as floats), {epochs} epochs, batch 128, Adam 1e-3; " +
                              $"streaming modes: Data.MemoryBudgetBytes = {budgetMb} MB; each mode in its own process");

            var (tensorUs, managedUs) = Handoff();
            Report.Line("data_handoff_us_tensor", tensorUs, "F2");
            Report.Line("data_handoff_us_managed", managedUs, "F2");

            var results = new Dictionary<string, Dictionary<string, double>>();
            var rss = new List<(string, IReadOnlyList<double>)>();
            var growth = new Dictionary<string, double>();
            var only = StringArg(args, "--modes")?.Split(',') ?? Modes;
            foreach (var mode in Modes.Where(only.Contains))
            {
                var r = RunChild(mode, dir, epochs, budgetMb, args.Contains("--gc-before-sample"));
                results[mode] = r;
                List<double> PerEpoch(string figure) => Enumerable.Range(1, epochs).Select(e => r.GetValueOrDefault($"child_{figure}_epoch_{e}", double.NaN)).ToList();
                var perEpoch = PerEpoch("rss_mb");
                growth[mode] = Growth(perEpoch);
                rss.Add((mode.Replace('_', ' '), perEpoch));
                Report.Line($"data_train_samples_per_s_{mode}", r["child_loop_rows_per_s"], "F0");
                Report.Line($"data_fit_samples_per_s_{mode}", r["child_fit_rows_per_s"], "F0");
                Report.Line($"data_setup_s_{mode}", r["child_setup_s"], "F2");
                Report.Line($"data_peak_rss_mb_{mode}", r["child_peak_rss_mb"], "F0");
                Report.Line($"data_training_peak_rss_mb_{mode}", r["child_training_peak_rss_mb"], "F0");
                Report.Line($"data_rss_growth_{mode}", growth[mode], "F4");
                var heapPerEpoch = PerEpoch("gc_heap_mb");
                Report.Line($"data_gc_heap_mb_{mode}", heapPerEpoch[^1], "F1");
                Console.WriteLine($"# {mode}: RSS per epoch {string.Join(", ", perEpoch.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))} MB; " +
                                  $"managed heap {string.Join(", ", heapPerEpoch.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))} MB");
                Report.Line($"data_streaming_{mode}", r["child_streaming"], "F0");
                if (testRows > 0) Report.Line($"data_test_accuracy_{mode}", r["child_accuracy"], "F4");
            }
            Report.Line("data_feature_tensor_mb_float", trainRows * 784 * 4 / 1e6, "F1");
            Report.Line("data_feature_tensor_mb_byte", trainRows * 784 / 1e6, "F1");
            double Ratio(string a, string b) => results.ContainsKey(a) && results.ContainsKey(b)
                ? results[a]["child_loop_rows_per_s"] / results[b]["child_loop_rows_per_s"] : double.NaN;
            Report.Line("data_stream_train_ratio", Ratio("stream_float", "memory_float"), "F3");
            Report.Line("data_stream_byte_train_ratio", Ratio("stream_byte", "memory_byte"), "F3");
            Report.Line("data_byte_train_ratio", Ratio("memory_byte", "memory_float"), "F3");
            if (results.TryGetValue("stream_float", out var budgetRun))
            {
                Report.Line("data_budget_run_streaming", budgetRun["child_streaming"], "F0");
                Report.Line("data_budget_rss_growth", growth["stream_float"], "F4");
            }
            if (plot is not null)
                Console.WriteLine("# plot: " + Plotting.TrainingPlots.SaveMemoryOverEpochs(rss, plot,
                    $"RSS after each epoch: reference CNN, {trainRows:N0} Fashion-MNIST rows ({dataMb:F0} MB as floats)"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>RSS growth from the second epoch's end to the largest later one (the first epoch warms up LibTorch and the allocator).</summary>
    private static double Growth(IReadOnlyList<double> rss) =>
        rss.Count < 2 ? double.NaN : (rss.Skip(1).Max() - rss[1]) / rss[1];

    private static void Save(MLContext ml, IDataView view, string path)
    {
        using var file = File.Create(path);
        ml.Data.SaveAsBinary(view, file);
    }

    private static Dictionary<string, double> RunChild(string mode, string dir, int epochs, int budgetMb, bool gcBeforeSample)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (gcBeforeSample) psi.Environment[GcBeforeSample] = "1";
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(DataBenchmark).Assembly.Location);
        foreach (var a in new[] { "data", "--child", mode, dir, epochs.ToString(CultureInfo.InvariantCulture), budgetMb.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var result = new Dictionary<string, double>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
        {
            if (line.StartsWith("# ", StringComparison.Ordinal)) Console.WriteLine($"# {mode}: {line[2..]}");
            var parts = line.Split(": ", 2);
            if (parts.Length == 2 && parts[0].StartsWith("child_", StringComparison.Ordinal))
                result[parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"The '{mode}' run failed (exit code {p.ExitCode}).");
        return result;
    }

    /// <summary>One mode in this process: train, sample RSS after each epoch, score the test file.</summary>
    private static int Child(string[] args)
    {
        string mode = args[1], dir = args[2];
        int epochs = int.Parse(args[3], CultureInfo.InvariantCulture), budgetMb = int.Parse(args[4], CultureInfo.InvariantCulture);
        bool bytes = mode.EndsWith("byte", StringComparison.Ordinal), stream = mode.StartsWith("stream", StringComparison.Ordinal);
        var ml = new MLContext(seed: 1);
        bool streaming = false;
        ml.Log += (_, e) =>
        {
            if (e.Source != "MLNetDeep" || !e.RawMessage.StartsWith("Training data", StringComparison.Ordinal)) return;
            Console.WriteLine("# " + e.RawMessage);
            streaming = e.RawMessage.StartsWith("Training data streamed", StringComparison.Ordinal);
        };
        var train = ml.Data.LoadFromBinary(Path.Combine(dir, bytes ? "train_byte.idv" : "train_float.idv"));
        var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var rss = new List<double>();
        var heap = new List<double>(); // the managed heap after the last GC: tells managed growth from native growth
        var options = new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Epochs = epochs, BatchSize = 128, Seed = 1, ScoringBatchSize = 256,
            Optimizer = new Adam { LearningRate = 1e-3 },
            OnEpochEnd = _ =>
            {
                // --gc-before-sample: what is retained, not what the GC has not collected yet
                if (Environment.GetEnvironmentVariable(GcBeforeSample) == "1") { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); }
                rss.Add(Status("VmRSS"));
                heap.Add(GC.GetGCMemoryInfo().HeapSizeBytes / 1e6);
            },
            Data = new DataOptions
            {
                // stream_float: Auto, whose budget below the data's size must pick streaming; stream_byte: the bytes may fit the
                // budget (Auto would keep them in memory), so streaming is asked for, with the same budget for its buffer.
                Mode = !stream ? DataMode.InMemory : bytes ? DataMode.Streaming : DataMode.Auto,
                MemoryBudgetBytes = stream ? budgetMb * 1_000_000L : null,
                ByteScaling = bytes ? ByteScaling.UnitRange : ByteScaling.None,
            },
        };
        var sw = Stopwatch.StartNew();
        using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(key.Transform(train));
        double fit = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"child_training_peak_rss_mb: {Status("VmHWM").ToString("R", CultureInfo.InvariantCulture)}"); // before the test scoring
        var history = model.History;
        Console.WriteLine($"child_loop_rows_per_s: {history.Epochs.Average(e => e.SamplesPerSecond).ToString("R", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"child_fit_rows_per_s: {(history.TrainingRows * (double)epochs / fit).ToString("R", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"child_setup_s: {(fit - history.Epochs.Sum(e => e.Duration.TotalSeconds)).ToString("R", CultureInfo.InvariantCulture)}");
        for (int i = 0; i < rss.Count; i++) Console.WriteLine($"child_rss_mb_epoch_{i + 1}: {rss[i].ToString("R", CultureInfo.InvariantCulture)}");
        for (int i = 0; i < heap.Count; i++) Console.WriteLine($"child_gc_heap_mb_epoch_{i + 1}: {heap[i].ToString("R", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"child_streaming: {(streaming ? 1 : 0)}");
        var testPath = Path.Combine(dir, bytes ? "test_byte.idv" : "test_float.idv");
        var test = ml.Data.LoadFromBinary(testPath);
        double accuracy = test.GetRowCount() > 0 ? ml.MulticlassClassification.Evaluate(model.Transform(key.Transform(test))).MicroAccuracy : double.NaN;
        Console.WriteLine($"child_accuracy: {accuracy.ToString("R", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"child_peak_rss_mb: {Status("VmHWM").ToString("R", CultureInfo.InvariantCulture)}");
        return 0;
    }

    /// <summary>A memory figure of /proc/self/status in MB (VmRSS: now; VmHWM: the peak).</summary>
    private static double Status(string field) =>
        double.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;

    /// <summary>
    /// What the training thread spends per batch (µs) to take over a batch of 128 Fashion-MNIST rows prepared on a
    /// worker thread: (a) a tensor the worker made, attached to the training thread's dispose scope; (b) a managed buffer
    /// the worker filled, copied into a new tensor on the training thread. Disposal at the end of the scope is included.
    /// </summary>
    private static (double Tensor, double Managed) Handoff(int batches = 2000)
    {
        var rows = FashionMnist.Read(train: true, take: 128).Select(i => i.Features).ToArray();
        double Measure(bool tensors)
        {
            var queue = new BlockingCollection<object>(4);
            var worker = new Thread(() =>
            {
                for (int b = 0; b < batches; b++)
                {
                    if (tensors)
                    {
                        var t = empty(128, 1, 28, 28).DetachFromDisposeScope();
                        var memory = MemoryMarshal.Cast<byte, float>(t.bytes);
                        for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(memory[(i * 784)..]);
                        queue.Add(t);
                    }
                    else
                    {
                        var buffer = new float[128 * 784];
                        for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(buffer, i * 784);
                        queue.Add(buffer);
                    }
                }
                queue.CompleteAdding();
            });
            worker.Start();
            long ticks = 0;
            double check = 0;
            foreach (var item in queue.GetConsumingEnumerable())
            {
                long start = Stopwatch.GetTimestamp();
                using (var scope = NewDisposeScope())
                {
                    Tensor t;
                    if (item is Tensor made)
                    {
                        scope.Attach(made);
                        t = made;
                    }
                    else
                    {
                        t = empty(128, 1, 28, 28);
                        ((float[])item).AsSpan().CopyTo(MemoryMarshal.Cast<byte, float>(t.bytes));
                    }
                    check += t.shape[0];
                }
                ticks += Stopwatch.GetTimestamp() - start;
            }
            worker.Join();
            return ticks * 1e6 / Stopwatch.Frequency / (check / 128);
        }
        Measure(true); // warm-up
        return (Measure(true), Measure(false));
    }

    private static string? StringArg(string[] args, string key)
    {
        int i = Array.IndexOf(args, key);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
