using MLNetDeep.Benchmarks;

// Every IBenchmark in this assembly, by name.
var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- NAME [options]");
    foreach (var b in benchmarks) Console.WriteLine($"  {b.Name,-12} {b.Description}");
    return args.Length == 0 ? 1 : 0;
}
var chosen = benchmarks.FirstOrDefault(b => b.Name == args[0]);
if (chosen is null)
{
    Console.Error.WriteLine($"Unknown benchmark '{args[0]}'. Known: {string.Join(", ", benchmarks.Select(b => b.Name))}");
    return 2;
}
// Load LibTorch (and apply MLNetDeep's malloc tuning) before anything runs, so the raw TorchSharp loops that the
// ratios compare against run under the same allocator settings as the estimators.
MLNetDeep.Runtime.TorchRuntime.EnsureLoaded();
Console.WriteLine($"native_allocator_tuned: {(MLNetDeep.Runtime.NativeAllocator.IsTuned ? 1 : 0)}");
return chosen.Run(args.Skip(1).ToArray());
