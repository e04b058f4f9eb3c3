using MLNetDeep.Sweeps;
using Xunit;

namespace MLNetDeep.Tests.Sweeps;

[Trait("Category", "Unit")]
public class PlotTests
{
    [Fact]
    public void Plots_are_written_as_png_for_the_best_curve_and_every_parameter()
    {
        var space = new SearchSpace()
            .Add("lr", SearchDimension.Float(1e-4, 1e-1, logScale: true))
            .Add("opt", SearchDimension.Choice("adam", "sgd"))
            .Add("depth", SearchDimension.Int(1, 4));
        var result = Sweeper.Run(space, new FunctionObjective(c =>
        {
            c.MaxEpochs = 3;
            double v = 0;
            for (int e = 1; e <= 3; e++) { v = e * 0.1 + c.Parameters.Get<int>("depth") * 0.01; if (c.Report(e, v)) break; }
            return v;
        }), new SweepOptions { Tuner = new RandomTuner(), MaxTrials = 12, Scheduler = new AshaScheduler() });
        var dir = Path.Combine(Path.GetTempPath(), $"mlnd-plots-{Guid.NewGuid():N}");
        try
        {
            var paths = SweepPlots.SaveAll(result.ToTable(), dir, space);
            Assert.Equal(new[] { "best_over_trials.png", "metric_vs_lr.png", "metric_vs_opt.png", "metric_vs_depth.png" }, paths.Select(Path.GetFileName));
            foreach (var p in paths)
            {
                var bytes = File.ReadAllBytes(p);
                Assert.True(bytes.Length > 2000, $"{p} is only {bytes.Length} bytes");
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes.Take(4));
            }
            Assert.Equal(paths.Count, Directory.GetFiles(dir).Length); // no temporary files left
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
