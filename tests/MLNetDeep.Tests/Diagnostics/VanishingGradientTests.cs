using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Diagnostics;
using MLNetDeep.Initializers;
using MLNetDeep.Optimizers;
using MLNetDeep.Plotting;
using MLNetDeep.Tests.Control;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Diagnostics;

/// <summary>
/// The classic experiment: 8 sigmoid layers with a small random init → early layers' gradients vanish and the
/// net stays near chance; the same depth with ReLU + He init, or with batch norm, keeps gradients flowing and learns.
/// </summary>
[Trait("Category", "Training")]
public class VanishingGradientTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 2000, 1000));
    private readonly ITestOutputHelper _out;

    public VanishingGradientTests(ITestOutputHelper output) => _out = output;

    private TrainingHistory Run(string label, Activation act, Initializer init, bool batchNorm)
    {
        var options = ControlKit.Mlp(Enumerable.Repeat(32, 8).ToArray(), act, epochs: 3, batchNorm: batchNorm);
        options.Initializer = init;
        options.Optimizer = new Sgd { LearningRate = 0.02, Momentum = 0.9 };
        options.Diagnostics = new DiagnosticsOptions { SampleEveryBatches = 2 };
        using var model = ControlKit.Fit(options, Small.Value.Train, Small.Value.Test);
        var h = model.History;
        var d = h.Diagnostics[0];
        _out.WriteLine($"{label}: accuracy {h.Epochs[^1].ValidationMetrics["accuracy"]:F4}, epoch-1 gradient norm first {d.Layers[0].GradientNorm:G3} / last {d.Layers[^1].GradientNorm:G3}, " +
                       $"warnings {h.Diagnostics.Sum(x => x.Warnings.Count)}");
        return h;
    }

    private static double Ratio(TrainingHistory h, int epoch = 0) => h.Diagnostics[epoch].Layers[0].GradientNorm / h.Diagnostics[epoch].Layers[^1].GradientNorm;

    [Fact]
    public void Deep_sigmoid_with_small_init_vanishes_while_relu_he_and_batch_norm_train()
    {
        var sigmoid = Run("sigmoid + N(0, 0.05)", new Sigmoid(), new RandomNormal { Std = 0.05 }, false);
        var relu = Run("ReLU + He", new Relu(), new HeNormal(), false);
        var bn = Run("sigmoid + N(0, 0.05) + batch norm", new Sigmoid(), new RandomNormal { Std = 0.05 }, true);

        Assert.Equal(9, sigmoid.Diagnostics[0].Layers.Count); // 8 hidden + output
        Assert.True(Ratio(sigmoid) < 1e-5, $"sigmoid first/last gradient ratio {Ratio(sigmoid):G3}");
        Assert.Contains(sigmoid.Diagnostics[0].Warnings, w => w.StartsWith("Vanishing gradients at epoch 1"));
        foreach (var h in new[] { relu, bn })
        {
            Assert.True(Ratio(h) > 1e-2, $"first/last gradient ratio {Ratio(h):G3}");
            Assert.All(h.Diagnostics, d => Assert.Empty(d.Warnings));
            Assert.All(h.Diagnostics[0].Layers, l => Assert.InRange(l.UpdateRatio, 1e-5, 1));
        }
        double accSigmoid = sigmoid.Epochs[^1].ValidationMetrics["accuracy"];
        Assert.True(relu.Epochs[^1].ValidationMetrics["accuracy"] > accSigmoid + 0.3);
        Assert.True(bn.Epochs[^1].ValidationMetrics["accuracy"] > accSigmoid + 0.3);

        // Exports: CSV, JSON and PNGs.
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-vanishing-" + Guid.NewGuid().ToString("N")[..8]);
        var files = HistoryExport.WriteAll(sigmoid, dir).Concat(TrainingPlots.SaveAll(sigmoid, dir))
            .Append(TrainingPlots.SaveGradientProfile(new[] { ("sigmoid", sigmoid), ("relu", relu), ("bn", bn) }, Path.Combine(dir, "profile.png")))
            .Append(TrainingPlots.SaveLossComparison(new[] { ("sigmoid", sigmoid), ("relu", relu) }, Path.Combine(dir, "losses.png"), reference: (2.3, "chance"))).ToList();
        foreach (var f in files) Assert.True(new FileInfo(f).Length > 100, f);
        var layers = File.ReadAllLines(Path.Combine(dir, "layers.csv"));
        Assert.Equal("epoch,layer,gradient_norm,max_gradient_norm,weight_norm,update_ratio", layers[0]);
        Assert.Equal(1 + 3 * 9, layers.Length);
        Assert.Contains("Vanishing gradients", File.ReadAllText(Path.Combine(dir, "history.json")));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(dir, "profile.png"))[..4]);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_too_large_initialisation_raises_the_exploding_warning_while_clipping_keeps_training_finite()
    {
        var options = ControlKit.Mlp(new[] { 64, 64, 64 }, new Relu(), epochs: 1);
        options.Initializer = new RandomNormal { Std = 1.0 }; // ~10x He scale: activations and gradients blow up with depth
        options.Optimizer = new Sgd { LearningRate = 1e-3 };
        options.Regularization = new MLNetDeep.Regularization.RegularizationOptions { GradientClipNorm = 1 };
        options.Diagnostics = new DiagnosticsOptions();
        using var model = ControlKit.Fit(options, Small.Value.Train);
        var d = model.History.Diagnostics.Single();
        _out.WriteLine(string.Join("\n", d.Warnings));
        Assert.Contains(d.Warnings, w => w.StartsWith("Exploding gradients at epoch 1"));
        Assert.True(d.Layers.Max(l => l.MaxGradientNorm) > 1e3);
        Assert.True(double.IsFinite(model.History.Epochs[0].TrainLoss));

        // The diagnostics are part of the history saved with the model.
        using var ms = new MemoryStream();
        model.Save(ms);
        ms.Position = 0;
        using var loaded = MLNetDeep.Scoring.DeepTransformer.Load(ms);
        Assert.Equal(d.Warnings, loaded.History.Diagnostics.Single().Warnings);
        Assert.Equal(d.Layers.Select(l => l.GradientNorm), loaded.History.Diagnostics.Single().Layers.Select(l => l.GradientNorm));
    }

    [Fact]
    public void Activation_statistics_count_dead_relu_units_and_update_ratios()
    {
        var options = ControlKit.Mlp(new[] { 16, 16 }, new Relu(), epochs: 1);
        options.Diagnostics = new DiagnosticsOptions();
        // Kill the first hidden layer: a large negative bias makes every ReLU output 0 (and its gradient 0).
        options.Callbacks.Add(new ControlKit.Hook
        {
            EpochBegin = (c, _) =>
            {
                using var noGrad = TorchSharp.torch.no_grad();
                c.Network.named_parameters().First(p => p.name == "head.layers.dense0.bias").parameter.fill_(-1000);
            },
        });
        using var model = ControlKit.Fit(options, Small.Value.Train);
        var d = model.History.Diagnostics.Single();
        Assert.Equal(1.0, d.Activations[0].DeadFraction);
        Assert.Equal(0.0, d.Layers[0].GradientNorm);
        Assert.All(d.Layers, l => Assert.Equal(0.0, l.UpdateRatio)); // nothing downstream of a dead layer learns either
    }
}
