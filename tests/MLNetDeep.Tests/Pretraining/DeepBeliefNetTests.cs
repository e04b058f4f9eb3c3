using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Pretraining;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Optimizers;
using MLNetDeep.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Pretraining;

/// <summary>Stacked-RBM (deep belief net) pretraining of the dense head: the stacking, seeding, and what it does to real training.</summary>
[Trait("Category", "Training")]
public class DeepBeliefNetTests
{
    private static Lazy<(IDataView Train, IDataView Test)> Labeled => FewLabels.Labeled;
    private static Lazy<IDataView> Unlabeled => FewLabels.Unlabeled;
    private readonly ITestOutputHelper _out;

    public DeepBeliefNetTests(ITestOutputHelper output) => _out = output;

    private static DeepNetwork Mlp(int[] hidden, int inputs = 784) => new CnnArchitecture
    {
        ImageShape = new ImageShape(1, 1, inputs),
        Layers = new(),
        Head = new DenseHead { HiddenSizes = hidden.ToList(), Activation = new Sigmoid(), Dropout = 0, InputDropout = 0 },
    }.Build(10, null);

    /// <summary>The first <paramref name="rows"/> Fashion-MNIST training images as the trainer hands them over, [N, 1, 1, 784] in [0, 1].</summary>
    private static Tensor Images(int rows) =>
        tensor(TestData.TrainImages(rows).SelectMany(i => i.Features).ToArray(), new long[] { rows, 1, 1, 784 });

    private static float[] Values(Tensor t) => t.detach().cpu().contiguous().reshape(-1).data<float>().ToArray();

    /// <summary>
    /// The stack done by hand — RBM 0 on the images, RBM 1 on RBM 0's hidden probabilities, one generator seeded 5 for
    /// every draw — gives exactly the weights and biases that pretraining leaves in dense0 and dense1, and the same curves.
    /// </summary>
    [Fact]
    public void Each_rbm_is_trained_on_the_hidden_probabilities_below_and_lands_in_its_layer()
    {
        using var scope = NewDisposeScope();
        var options = new RbmOptions { LearningRate = 0.05 };
        using var images = Images(2000);
        using var network = Mlp(new[] { 48, 24 });
        var results = LayerwisePretrainer.Run(network, new PretrainingOptions { EpochsPerLayer = 2, Rbm = options }, images, 50, null, seed: 5);

        using var generator = new Generator(5, CPU);
        var data = images.reshape(2000, 784);
        var expected = new List<(Rbm Rbm, List<double> Pll)>();
        foreach (var (visible, hidden) in new[] { (784L, 48L), (48L, 24L) })
        {
            var rbm = new Rbm(visible, hidden, RbmVisibleUnits.Bernoulli, generator, CPU);
            var curves = rbm.Train(data, options, 2, 50, generator);
            expected.Add((rbm, curves.PseudoLogLikelihood));
            data = rbm.HiddenProbabilities(data);
        }
        var parameters = network.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal($"head.layers.dense{i}", results[i].Layer);
            Assert.Equal(Values(expected[i].Rbm.Weight), Values(parameters[$"head.layers.dense{i}.weight"]));
            Assert.Equal(Values(expected[i].Rbm.HiddenBias), Values(parameters[$"head.layers.dense{i}.bias"]));
            Assert.Equal(expected[i].Pll, results[i].PseudoLogLikelihood);
            Assert.Equal(2, results[i].ReconstructionLoss.Count);
            expected[i].Rbm.Dispose();
        }
        // The layer above the output is untouched by pretraining (still its initialiser's weights, not 0.01-scale RBM weights).
        Assert.True(parameters["head.layers.output.weight"].abs().max().ToDouble() > 0.05);
    }

    /// <summary>
    /// Two pretraining runs with the same seed on two threads at once, while a third thread keeps drawing from torch's
    /// global generator, give the weights of a run alone: every draw comes from the run's own generator. Both kinds
    /// (RBMs, and denoising autoencoders); another seed gives other weights.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Same_seed_same_weights_even_with_concurrent_runs(bool rbm)
    {
        using var images = Images(1000);
        var options = new PretrainingOptions { EpochsPerLayer = 2, Rbm = rbm ? new RbmOptions { Persistent = true, SampleVisible = true } : null };
        // The autoencoder trains each layer on from its initial weights: every network starts from the same ones.
        DeepNetwork Fresh() { torch.random.manual_seed(3); return Mlp(new[] { 32 }); }
        var networks = Enumerable.Range(0, 4).Select(_ => Fresh()).ToList();
        float[] Pretrain(DeepNetwork network, int seed)
        {
            using var scope = NewDisposeScope();
            LayerwisePretrainer.Run(network, options, images, 25, null, seed);
            return Values(network.named_parameters().Single(p => p.name == "head.layers.dense0.weight").parameter);
        }
        var alone = Pretrain(networks[0], 11);
        using var stop = new CancellationTokenSource();
        var noise = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) { using var r = rand(64, 64); }
        });
        var runs = new[] { Task.Run(() => Pretrain(networks[1], 11)), Task.Run(() => Pretrain(networks[2], 11)) };
        Task.WaitAll(runs);
        stop.Cancel();
        noise.Wait();
        Assert.Equal(alone, runs[0].Result);
        Assert.Equal(alone, runs[1].Result);
        Assert.NotEqual(alone, Pretrain(networks[3], 12));
        foreach (var n in networks) n.Dispose();
    }

    /// <summary>A pretraining run leaves no LibTorch tensor behind (the RBMs, velocities, chains and layer inputs are disposed).</summary>
    [Fact]
    public void Pretraining_leaves_no_tensors_behind()
    {
        using var images = Images(600);
        using var network = Mlp(new[] { 32, 16 });
        var options = new PretrainingOptions { EpochsPerLayer = 1, Rbm = new RbmOptions { Persistent = true, GibbsSteps = 3 } };
        LayerwisePretrainer.Run(network, options, images, 50, null, seed: 1);
        // Earlier tests' unreachable tensors are finalised first, so only this code's tensors move the count.
        static long Live() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return Tensor.TotalCount; }
        long before = Live();
        for (int i = 0; i < 3; i++) LayerwisePretrainer.Run(network, options, images, 50, null, seed: 1);
        Assert.Equal(before, Live());
    }

    /// <summary>
    /// 500 labeled Fashion-MNIST images + 10,000 unlabeled ones, a 256-128-64 sigmoid MLP, 10 supervised epochs: stacked-RBM
    /// pretraining (RbmOptions' defaults, 5 epochs per layer) through the trainer's <c>Pretraining</c> option ends at a higher
    /// test accuracy than the same net from its Glorot initialisation (measured: 0.646 vs 0.567); the history carries each
    /// layer's curves, the first RBM's pseudo-log-likelihood rises and every reconstruction error falls.
    /// </summary>
    [Fact]
    public void Rbm_pretraining_helps_a_sigmoid_mlp_with_few_labels()
    {
        (double[] Accuracy, List<PretrainingLayerResult> Layers) Run(bool pretrain)
        {
            var o = ControlKit.Mlp(new[] { 256, 128, 64 }, new Sigmoid(), epochs: 10);
            if (pretrain) o.Pretraining = new PretrainingOptions { UnlabeledData = Unlabeled.Value, EpochsPerLayer = 5, Rbm = new RbmOptions() };
            using var model = ControlKit.Fit(o, Labeled.Value.Train, Labeled.Value.Test);
            _out.WriteLine($"RBM pretraining {pretrain}: accuracy per epoch {string.Join(" ", model.History.Epochs.Select(e => e.ValidationMetrics["accuracy"].ToString("F3")))}");
            foreach (var l in model.History.Pretraining)
                _out.WriteLine($"  {l.Layer}: reconstruction MSE {string.Join(" → ", l.ReconstructionLoss.Select(v => v.ToString("G4")))}, PLL {string.Join(" → ", l.PseudoLogLikelihood.Select(v => v.ToString("F1")))}");
            return (model.History.Epochs.Select(e => e.ValidationMetrics["accuracy"]).ToArray(), model.History.Pretraining.ToList());
        }
        var plain = Run(false);
        var pre = Run(true);
        Assert.Equal(new[] { "head.layers.dense0", "head.layers.dense1", "head.layers.dense2" }, pre.Layers.Select(l => l.Layer));
        Assert.All(pre.Layers, l => Assert.True(l.ReconstructionLoss[^1] < l.ReconstructionLoss[0], $"{l.Layer}: {l.ReconstructionLoss[0]:G4} → {l.ReconstructionLoss[^1]:G4}"));
        Assert.All(pre.Layers, l => Assert.Equal(5, l.PseudoLogLikelihood.Count));
        Assert.True(pre.Layers[0].PseudoLogLikelihood[^1] > pre.Layers[0].PseudoLogLikelihood[0]);
        Assert.True(pre.Accuracy[^1] > plain.Accuracy[^1] + 0.04, $"pretrained {pre.Accuracy[^1]:F3} vs plain {plain.Accuracy[^1]:F3}");
    }

    private sealed class CancerRow
    {
        [VectorType(30)] public float[] Features { get; set; } = Array.Empty<float>();
        public bool Label { get; set; }
    }

    private static (IDataView Train, IDataView Test) BreastCancer(MLContext ml)
    {
        var lines = File.ReadAllLines(FullBatchProblem.Fixture("breast_cancer.csv")).Skip(1).Where(l => l.Length > 0).ToList();
        var rows = lines.Select(l => l.Split(',')).Select(c => new CancerRow
        {
            Features = c.Take(30).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            Label = c[30] == "1",
        }).ToList();
        var split = ml.Data.TrainTestSplit(ml.Data.LoadFromEnumerable(rows), testFraction: 0.3, seed: 4);
        return (split.TrainSet, split.TestSet);
    }

    /// <summary>
    /// A real tabular set (breast cancer, 30 features, standardised in the pipeline by NormalizeMeanVariance): Gaussian–Bernoulli
    /// RBM pretraining of a 16-8 sigmoid net through the binary trainer. The first RBM's reconstruction error falls well
    /// below 1 (what reconstructing every standardised feature by its mean scores), it has no pseudo-log-likelihood (Gaussian
    /// units), the second RBM (Bernoulli) has one, the fine-tuned net classifies the held-out 30% above 0.93 (measured 0.964),
    /// and the saved model carries the curves.
    /// </summary>
    [Fact]
    public void Gaussian_rbm_pretrains_a_net_on_a_standardised_tabular_set()
    {
        var ml = new MLContext(seed: 2);
        var (train, test) = BreastCancer(ml);
        var options = new CnnOptions
        {
            ImageShape = new ImageShape(1, 1, 30),
            Layers = new(),
            Head = new DenseHead { HiddenSizes = new() { 16, 8 }, Activation = new Sigmoid(), Dropout = 0, InputDropout = 0 },
            Epochs = 30,
            BatchSize = 32,
            Seed = 2,
            Pretraining = new PretrainingOptions { EpochsPerLayer = 30, BatchSize = 16, Rbm = new RbmOptions { Visible = RbmVisibleUnits.Gaussian, LearningRate = 0.005 } },
        };
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features", fixZero: false).Append(ml.BinaryClassification.Trainers.Cnn(options));
        var model = pipeline.Fit(train);
        var layers = model.LastTransformer.History.Pretraining;
        foreach (var l in layers)
            _out.WriteLine($"{l.Layer}: reconstruction MSE {l.ReconstructionLoss[0]:G4} → {l.ReconstructionLoss[^1]:G4}, PLL {string.Join(" ", l.PseudoLogLikelihood.TakeLast(1).Select(v => v.ToString("F2")))}");
        var metrics = ml.BinaryClassification.EvaluateNonCalibrated(model.Transform(test));
        _out.WriteLine($"test accuracy {metrics.Accuracy:F4}");
        Assert.True(layers[0].ReconstructionLoss[^1] < 0.6 && layers[0].ReconstructionLoss[^1] < layers[0].ReconstructionLoss[0], $"first RBM: {layers[0].ReconstructionLoss[0]:G4} → {layers[0].ReconstructionLoss[^1]:G4}");
        Assert.Empty(layers[0].PseudoLogLikelihood);
        Assert.Equal(30, layers[1].PseudoLogLikelihood.Count);
        Assert.True(metrics.Accuracy > 0.93, $"test accuracy {metrics.Accuracy:F4}");
        // The curves travel with the saved model.
        var saved = new MemoryStream();
        model.LastTransformer.Save(saved);
        saved.Position = 0;
        using var reloaded = MLNetDeep.Scoring.DeepTransformer.Load(saved);
        Assert.Equal(layers.Select(l => l.PseudoLogLikelihood), reloaded.History.Pretraining.Select(l => l.PseudoLogLikelihood));
        Assert.Equal(layers.Select(l => l.ReconstructionLoss), reloaded.History.Pretraining.Select(l => l.ReconstructionLoss));
        model.LastTransformer.Dispose();
    }

    [Fact]
    public void Inputs_that_do_not_fit_the_visible_units_get_clear_messages()
    {
        var (x, _) = FullBatchProblem.BreastCancer(ScalarType.Float32); // standardised: negative values
        using var features = x.reshape(x.shape[0], 1, 1, 30);
        using var network = Mlp(new[] { 8 }, inputs: 30);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LayerwisePretrainer.Run(network, new PretrainingOptions { Rbm = new RbmOptions() }, features, 32, null, seed: 1));
        Assert.Contains("Pretraining.Rbm.Visible = Bernoulli needs inputs in [0, 1]", e.Message);
        Assert.Contains("Received: inputs from -", e.Message);
        Assert.Contains("RbmVisibleUnits.Gaussian", e.Message);

        var log = new List<string>();
        using var raw = (features * 10 + 5).DetachFromDisposeScope();
        LayerwisePretrainer.Run(network, new PretrainingOptions { EpochsPerLayer = 1, Rbm = new RbmOptions { Visible = RbmVisibleUnits.Gaussian, LearningRate = 1e-4 } }, raw, 32, log.Add, seed: 1);
        Assert.Contains(log, l => l.StartsWith("warning: Pretraining.Rbm.Visible = Gaussian assumes standardised features"));
        x.Dispose();
    }

    [Fact]
    public void Bad_rbm_options_get_clear_messages()
    {
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        foreach (var (rbm, expected) in new (RbmOptions, string)[]
                 {
                     (new RbmOptions { GibbsSteps = 0 }, "Pretraining.Rbm.GibbsSteps must be >= 1. Received: GibbsSteps=0"),
                     (new RbmOptions { LearningRate = 0 }, "Pretraining.Rbm.LearningRate must be a finite number > 0. Received: LearningRate=0"),
                     (new RbmOptions { Momentum = 1 }, "Pretraining.Rbm.Momentum must be in [0, 1). Received: Momentum=1"),
                     (new RbmOptions { WeightDecay = -1 }, "Received: WeightDecay=-1"),
                     (new RbmOptions { Visible = (RbmVisibleUnits)5 }, "Pretraining.Rbm.Visible must be Bernoulli or Gaussian"),
                 })
        {
            o.Pretraining = new PretrainingOptions { Rbm = rbm };
            Assert.Contains(expected, Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(o, Labeled.Value.Train)).Message);
        }
    }
}
