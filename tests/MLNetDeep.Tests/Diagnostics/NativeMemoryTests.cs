using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Augmentation;
using MLNetDeep.Diagnostics;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Regularization;
using MLNetDeep.Tests.Control;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Diagnostics;

public class NativeMemoryTests
{
    private readonly ITestOutputHelper _out;
    public NativeMemoryTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Many_epochs_with_every_control_on_do_not_grow_memory()
    {
        var ml = new MLContext(seed: 1);
        var (train, val) = ControlKit.Data(ml, 512, 128);
        var options = ControlKit.Mlp(new[] { 64, 32 }, epochs: 60, batchNorm: true, dropout: 0.2);
        options.BatchSize = 32;
        options.Diagnostics = new DiagnosticsOptions();
        options.EarlyStopping = new EarlyStoppingOptions { Patience = 1000 };
        options.Augmentation = new ImageAugmentation { HorizontalFlipProbability = 0.5, MaxShiftPixels = 1, NoiseStd = 0.02 };
        options.Regularization = new RegularizationOptions { L1 = 1e-5, WeightDecay = 1e-4, MaxNorm = 3, LabelSmoothing = 0.1, GradientClipNorm = 1, BalanceClasses = true };
        var rss = new Dictionary<int, long>();
        options.Callbacks.Add(new ControlKit.Hook
        {
            EpochEnd = (_, s) =>
            {
                if (s.Epoch is not (10 or 60)) return;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                using var p = Process.GetCurrentProcess();
                rss[s.Epoch] = p.WorkingSet64;
            },
        });
        using var model = ControlKit.Fit(options, train, val);
        double growthMb = (rss[60] - rss[10]) / 1048576.0;
        _out.WriteLine($"working set after epoch 10: {rss[10] / 1048576.0:F1} MB, after epoch 60: {rss[60] / 1048576.0:F1} MB (growth {growthMb:F1} MB over 50 epochs, 800 steps)");
        Assert.True(growthMb < 25, $"working set grew {growthMb:F1} MB over 50 epochs");
    }
}
