using System.Text.Json;
using MLNetDeep.Pretraining;
using MLNetDeep.Tests.Optimizers;
using MLNetDeep.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Pretraining;

/// <summary>The restricted Boltzmann machine itself: its formulas against scikit-learn and NumPy, and its training on real data.</summary>
[Trait("Category", "Training")]
public class RbmTests
{
    private readonly ITestOutputHelper _out;
    public RbmTests(ITestOutputHelper output) => _out = output;

    private static readonly Lazy<JsonElement> Reference = new(() => FullBatchProblem.ReadJson("rbm_reference.json"));

    internal static Tensor Matrix(JsonElement rows) =>
        stack(rows.EnumerateArray().Select(r => tensor(r.EnumerateArray().Select(v => v.GetDouble()).ToArray())).ToList());

    internal static Tensor Vector(JsonElement values) => tensor(values.EnumerateArray().Select(v => v.GetDouble()).ToArray());

    private static Rbm ReferenceRbm()
    {
        var e = Reference.Value.GetProperty("exact");
        return new Rbm(Matrix(e.GetProperty("weight")), Vector(e.GetProperty("hidden_bias")), Vector(e.GetProperty("visible_bias")), RbmVisibleUnits.Bernoulli);
    }

    /// <summary>
    /// Independent reference: scikit-learn 1.2.1's BernoulliRBM fitted on its digits data (Fixtures/rbm_reference.py).
    /// With its weights, its rows and the units its score_samples flipped, our free energy and pseudo-log-likelihood
    /// equal its <c>_free_energy</c> and <c>score_samples</c> (float64, 1e-9).
    /// </summary>
    [Fact]
    public void Free_energy_and_pseudo_log_likelihood_equal_scikit_learns()
    {
        using var scope = NewDisposeScope();
        var e = Reference.Value.GetProperty("exact");
        using var rbm = ReferenceRbm();
        var rows = Matrix(e.GetProperty("rows"));
        var flips = tensor(e.GetProperty("flips").EnumerateArray().Select(v => v.GetInt64()).ToArray());
        var free = rbm.FreeEnergy(rows).data<double>().ToArray();
        var pll = rbm.PseudoLogLikelihood(rows, flips).data<double>().ToArray();
        var expectedFree = e.GetProperty("free_energy").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var expectedPll = e.GetProperty("pseudo_log_likelihood").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (int i = 0; i < free.Length; i++)
        {
            Assert.True(Math.Abs(free[i] - expectedFree[i]) < 1e-9, $"row {i}: F = {free[i]:R}, scikit-learn {expectedFree[i]:R}");
            Assert.True(Math.Abs(pll[i] - expectedPll[i]) < 1e-9, $"row {i}: PLL = {pll[i]:R}, scikit-learn {expectedPll[i]:R}");
        }
    }

    /// <summary>
    /// With sampling off, CD-k is deterministic: two CD-2 updates with momentum 0.5 and weight decay 0.01 give the
    /// weights and biases of the NumPy transcription of Hinton's update rule in Fixtures/rbm_reference.py (float64, 1e-12).
    /// </summary>
    [Fact]
    public void Mean_field_cd_updates_with_momentum_and_weight_decay_follow_the_rule()
    {
        using var scope = NewDisposeScope();
        var u = Reference.Value.GetProperty("update");
        var options = new RbmOptions
        {
            LearningRate = u.GetProperty("learning_rate").GetDouble(),
            GibbsSteps = u.GetProperty("gibbs_steps").GetInt32(),
            WeightDecay = u.GetProperty("weight_decay").GetDouble(),
            SampleHidden = false,
            SampleVisible = false,
        };
        using var rbm = ReferenceRbm();
        var rows = Matrix(Reference.Value.GetProperty("exact").GetProperty("rows"));
        using var generator = new Generator(1, CPU);
        using var state = new Rbm.TrainingState(rbm);
        for (int i = 0; i < u.GetProperty("updates").GetInt32(); i++) rbm.Update(rows, options, u.GetProperty("momentum").GetDouble(), generator, state);
        AssertClose(Matrix(u.GetProperty("weight")), rbm.Weight, "W");
        AssertClose(Vector(u.GetProperty("hidden_bias")), rbm.HiddenBias, "c");
        AssertClose(Vector(u.GetProperty("visible_bias")), rbm.VisibleBias, "b");
    }

    private static void AssertClose(Tensor expected, Tensor actual, string name)
    {
        double diff = (expected - actual).abs().max().ToDouble();
        Assert.True(diff < 1e-12, $"{name}: largest difference {diff:G3}");
    }

    /// <summary>
    /// Peer check: scikit-learn's BernoulliRBM and ours with its settings (persistent CD-1, no momentum, no weight decay,
    /// sampled visible units; 64 hidden units, learning rate 0.05, batch 20, 10 epochs) on the first 2,000 Fashion-MNIST
    /// training images binarised at 0.5. The runs differ in their random numbers (and ours shuffles the rows each epoch,
    /// scikit-learn does not), so runs are compared as populations: scikit-learn's 5 seeds (from the fixture) against our 4,
    /// each run summarised by the mean pseudo-log-likelihood of its last 3 epochs (the estimate of one epoch is noisy: one
    /// random flip per row). The band is 3 standard errors of the difference of the two means.
    /// </summary>
    [Fact]
    public void Pseudo_log_likelihood_is_comparable_to_scikit_learns_bernoulli_rbm()
    {
        var peer = Reference.Value.GetProperty("peer");
        var s = peer.GetProperty("settings");
        var sklearn = peer.GetProperty("pseudo_log_likelihood").EnumerateArray().Select(c => c.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToList();
        int rows = s.GetProperty("rows").GetInt32(), epochs = s.GetProperty("n_iter").GetInt32();
        using var data = tensor(TestData.TrainImages(rows).SelectMany(i => i.Features).Select(v => v > 0.5f ? 1f : 0f).ToArray(), new long[] { rows, 784 });
        var options = new RbmOptions
        {
            Persistent = true,
            GibbsSteps = 1,
            LearningRate = s.GetProperty("learning_rate").GetDouble(),
            Momentum = 0,
            InitialMomentumEpochs = 0,
            WeightDecay = 0,
            SampleHidden = true,
            SampleVisible = true,
        };
        var ours = new List<double[]>();
        foreach (ulong seed in new ulong[] { 1, 2, 3, 4 })
        {
            using var generator = new Generator(seed, CPU);
            using var rbm = new Rbm(784, s.GetProperty("n_components").GetInt64(), RbmVisibleUnits.Bernoulli, generator, CPU);
            ours.Add(rbm.Train(data, options, epochs, s.GetProperty("batch_size").GetInt32(), generator).PseudoLogLikelihood.ToArray());
        }
        static (double Mean, double Sd) Stats(IEnumerable<double> v)
        {
            var a = v.ToArray();
            double m = a.Average();
            return (m, Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)));
        }
        for (int e = 0; e < epochs; e++)
        {
            var (sm, ss) = Stats(sklearn.Select(c => c[e]));
            var (om, os) = Stats(ours.Select(c => c[e]));
            _out.WriteLine($"epoch {e + 1}: scikit-learn {sm:F1} ± {ss:F1} (5 seeds), ours {om:F1} ± {os:F1} ({ours.Count} seeds)");
        }
        // One number per run: the mean of its last three epochs (the per-epoch estimate is noisy).
        var (skMean, skSd) = Stats(sklearn.Select(c => c.TakeLast(3).Average()));
        var (ourMean, ourSd) = Stats(ours.Select(c => c.TakeLast(3).Average()));
        double band = 3 * Math.Sqrt(skSd * skSd / sklearn.Count + ourSd * ourSd / ours.Count);
        _out.WriteLine($"mean of the last 3 epochs: ours {ourMean:F1} ± {ourSd:F1} ({ours.Count} seeds), scikit-learn {skMean:F1} ± {skSd:F1} ({sklearn.Count} seeds); band ±{band:F1}");
        Assert.True(Math.Abs(ourMean - skMean) <= band, $"pseudo-log-likelihood (last 3 epochs): ours {ourMean:F1} ± {ourSd:F1}, scikit-learn {skMean:F1} ± {skSd:F1}, band ±{band:F1}");
        // Both learn: the last epoch is well above the first.
        Assert.All(ours, c => Assert.True(c[^1] > c[0] + 20, $"ours: {c[0]:F1} → {c[^1]:F1}"));
    }
}
