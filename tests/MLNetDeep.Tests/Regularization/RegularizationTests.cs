using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Optimizers;
using MLNetDeep.Regularization;
using MLNetDeep.Tests.Control;
using MLNetDeep.Training;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Regularization;

[Trait("Category", "Unit")]
public class RegularizationTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 1000, 500));

    [Fact]
    public void MaxNorm_holds_after_every_step()
    {
        const double max = 0.5;
        int checkedSteps = 0;
        var options = ControlKit.Mlp(new[] { 64, 32 }, epochs: 1);
        options.Optimizer = new Adam { LearningRate = 0.01 };
        options.Regularization = new RegularizationOptions { MaxNorm = max };
        options.Callbacks.Add(new ControlKit.Hook
        {
            BatchEnd = (c, _, _) =>
            {
                foreach (var (name, w) in ControlKit.Weights(c.Network))
                {
                    using var norms = w.detach().flatten(1).norm(1);
                    Assert.True(norms.max().item<float>() <= max + 1e-5, $"{name}: a unit's incoming norm is {norms.max().item<float>()}");
                }
                checkedSteps++;
            },
        });
        ControlKit.Fit(options, Small.Value.Train);
        Assert.Equal(16, checkedSteps);
    }

    [Fact]
    public void Clipping_by_global_norm_caps_the_norm_and_by_value_caps_elements()
    {
        double before = 0;
        int clipped = 0;
        var options = ControlKit.Mlp(new[] { 64 }, epochs: 1);
        options.Optimizer = new Sgd { LearningRate = 0.05 };
        options.Regularization = new RegularizationOptions { GradientClipNorm = 0.1, GradientClipValue = 0.05 };
        options.Callbacks.Add(new ControlKit.Hook
        {
            BeforeStep = c =>
            {
                var grads = c.Network.parameters().Where(p => p.grad is not null).Select(p => p.grad!).ToList();
                double total = Math.Sqrt(grads.Sum(g => Math.Pow(g.norm().item<float>(), 2)));
                double maxAbs = grads.Max(g => g.abs().max().item<float>());
                Assert.True(total <= 0.1 + 1e-5, $"global norm {total} > 0.1");
                Assert.True(maxAbs <= 0.05 + 1e-7, $"max |grad| {maxAbs} > 0.05");
                before = Math.Max(before, c.GradientNorm ?? 0);
                if (c.GradientNorm > 0.1) clipped++;
            },
        });
        ControlKit.Fit(options, Small.Value.Train);
        Assert.True(clipped > 0, $"the norm never exceeded the cap (max {before}); the test proves nothing");
    }

    [Fact]
    public void L1_drives_first_layer_weights_to_nearly_zero()
    {
        double NearZero(double l1)
        {
            var options = ControlKit.Mlp(new[] { 32 }, epochs: 6);
            options.Optimizer = new Adam { LearningRate = 0.005 };
            options.Regularization = new RegularizationOptions { L1 = l1 };
            using var model = ControlKit.Fit(options, Small.Value.Train);
            var w = ControlKit.Weights(model.Network)[0].W;
            return ControlKit.Flat(w).Count(v => Math.Abs(v) < 5e-3) / (double)w.numel();
        }
        double plain = NearZero(0), sparse = NearZero(1e-3);
        Assert.True(sparse > 0.5 && sparse > 3 * plain, $"near-zero fraction: L1 {sparse:F3}, none {plain:F3}");
    }

    [Fact]
    public void Decoupled_weight_decay_shrinks_weights()
    {
        double Norm(double wd)
        {
            var options = ControlKit.Mlp(new[] { 32 }, epochs: 2);
            options.Regularization = new RegularizationOptions { WeightDecay = wd };
            using var model = ControlKit.Fit(options, Small.Value.Train);
            return ControlKit.Weights(model.Network).Sum(w => w.W.norm().item<float>());
        }
        double plain = Norm(0), decayed = Norm(5);
        Assert.True(decayed < 0.9 * plain, $"weight norm with decay {decayed:F3}, without {plain:F3}");
    }

    [Fact]
    public void Dropout_is_off_in_scoring_and_same_seed_gives_same_weights()
    {
        var options = ControlKit.Mlp(new[] { 64 }, epochs: 1, dropout: 0.5);
        options.Regularization = new RegularizationOptions { L1 = 1e-4, MaxNorm = 3, LabelSmoothing = 0.1, WeightDecay = 1e-3, GradientClipNorm = 1 };
        using var a = ControlKit.Fit(options, Small.Value.Train);
        using var b = ControlKit.Fit(options, Small.Value.Train);
        foreach (var ((_, wa), (_, wb)) in ControlKit.Weights(a.Network).Zip(ControlKit.Weights(b.Network)))
            Assert.Equal(ControlKit.Flat(wa), ControlKit.Flat(wb));
        var s1 = a.Transform(Small.Value.Test).GetColumn<float[]>("Score").ToArray();
        var s2 = a.Transform(Small.Value.Test).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(s1.SelectMany(x => x), s2.SelectMany(x => x));
    }

    [Fact]
    public void Label_smoothing_makes_predictions_less_confident()
    {
        double Confidence(double eps)
        {
            var options = ControlKit.Mlp(new[] { 64 }, epochs: 3);
            options.Regularization = new RegularizationOptions { LabelSmoothing = eps };
            using var model = ControlKit.Fit(options, Small.Value.Train);
            return model.Transform(Small.Value.Test).GetColumn<float[]>("Score").Average(s => s.Max());
        }
        double plain = Confidence(0), smooth = Confidence(0.2);
        Assert.True(smooth < plain - 0.03, $"mean top probability: smoothed {smooth:F3}, plain {plain:F3}");
    }

    [Fact]
    public void Class_weights_shift_predictions_towards_the_heavy_class()
    {
        int Predicted(IReadOnlyList<double>? weights)
        {
            var options = ControlKit.Mlp(new[] { 32 }, epochs: 2);
            options.Regularization = new RegularizationOptions { ClassWeights = weights };
            using var model = ControlKit.Fit(options, Small.Value.Train);
            return model.Transform(Small.Value.Test).GetColumn<uint>("PredictedLabel").Count(k => k == 1);
        }
        var heavy = Enumerable.Repeat(1.0, 10).ToArray();
        heavy[0] = 20; // key 1 = the first class in key order
        int plain = Predicted(null), weighted = Predicted(heavy);
        Assert.True(weighted > plain * 1.5 + 5, $"rows predicted as class 0: weighted {weighted}, plain {plain}");
        var ex = Assert.Throws<ArgumentException>(() => Predicted(new[] { 1.0, 2.0 }));
        Assert.Contains("ClassWeights has 2 entries but the label has 10 classes", ex.Message);
    }

    [Fact]
    public void Balanced_class_weights_are_inverse_frequencies()
    {
        var w = MLNetDeep.Tasks.TaskLoss.ClassWeightsFor(new RegularizationOptions { BalanceClasses = true }, new float[] { 0, 0, 0, 1 }, 2);
        Assert.Equal(new[] { 4f / 6, 2f }, w);
    }

    [Fact]
    public void Non_finite_loss_names_epoch_and_step_and_keeps_the_best_weights()
    {
        CnnOptionsWithPoison(out var options, NonFiniteLossAction.Throw);
        var ex = Assert.Throws<TrainingDivergedException>(() => ControlKit.Fit(options, Small.Value.Train, Small.Value.Test));
        Assert.Contains("at epoch 3, step 1 of", ex.Message);
        Assert.Contains("learning rate", ex.Message);
        Assert.NotNull(ex.BestModel);

        CnnOptionsWithPoison(out options, NonFiniteLossAction.StopAndRestoreBest);
        using var model = ControlKit.Fit(options, Small.Value.Train, Small.Value.Test);
        var h = model.History;
        Assert.Equal(2, h.Epochs.Count);
        Assert.NotNull(h.RestoredEpoch);
        Assert.StartsWith("Training diverged", h.StopReason);
        double expected = h.Epochs[h.RestoredEpoch!.Value - 1].ValidationMetrics["accuracy"];
        Assert.Equal(expected, ControlKit.Accuracy(Ml, model, Small.Value.Test), 6);
        Assert.All(ControlKit.Weights(model.Network), w => Assert.True(ControlKit.Flat(w.W).All(float.IsFinite)));
    }

    private static void CnnOptionsWithPoison(out MLNetDeep.Models.Cnn.CnnOptions options, NonFiniteLossAction action)
    {
        options = ControlKit.Mlp(new[] { 32 }, epochs: 4);
        options.Regularization = new RegularizationOptions { OnNonFiniteLoss = action };
        // Poison a weight at the start of epoch 3: the loss becomes NaN on its first step.
        options.Callbacks.Add(new ControlKit.Hook
        {
            EpochBegin = (c, e) =>
            {
                if (e != 3) return;
                using var _ = no_grad();
                ControlKit.Weights(c.Network)[0].W.fill_(float.NaN);
            },
        });
    }

    [Theory]
    [InlineData("L1", "Received: L1=-1")]
    [InlineData("MaxNorm", "Received: MaxNorm=0")]
    [InlineData("LabelSmoothing", "Received: LabelSmoothing=1")]
    [InlineData("GradientClipNorm", "Received: GradientClipNorm=-2")]
    public void Bad_values_are_rejected_naming_option_and_value(string option, string expected)
    {
        var reg = option switch
        {
            "L1" => new RegularizationOptions { L1 = -1 },
            "MaxNorm" => new RegularizationOptions { MaxNorm = 0 },
            "LabelSmoothing" => new RegularizationOptions { LabelSmoothing = 1 },
            _ => new RegularizationOptions { GradientClipNorm = -2 },
        };
        var options = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        options.Regularization = reg;
        var ex = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, Small.Value.Train));
        Assert.Contains(expected, ex.Message);
    }
}
