using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class AdamWTests
{
    private readonly ITestOutputHelper _log;
    public AdamWTests(ITestOutputHelper log) => _log = log;

    [Fact]
    public void ThreeStepsMatchDecoupledDecayThenAdam()
    {
        var options = new AdamW { LearningRate = 0.1, DecoupledWeightDecay = 0.2 };
        TinyProblem.AssertSamePath(AdamTests.Reference(0.1, 0.9, 0.999, 1e-7, false, 0, 0.2, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void FirstStepByHand()
    {
        // w₁ = w₀·(1 − lr·λ) − lr·sign(g) = 1.5·(1 − 0.1·0.2) − 0.1 = 1.37 for the first coordinate.
        var path = TinyProblem.Run(new AdamW { LearningRate = 0.1, DecoupledWeightDecay = 0.2, Epsilon = 1e-300 }, 1);
        TinyProblem.AssertSamePath(new[] { new[] { 1.5 * 0.98 - 0.1, 0.5 * 0.98 - 0.1, -1.0 * 0.98 + 0.1 } }, path);
    }

    [Fact]
    public void DecoupledDecayIsNotRescaledLikeCoupledDecay()
    {
        // With zero gradient from the loss, coupled decay in Adam moves w by lr·sign(w) per step (normalised away),
        // while decoupled decay shrinks it by the factor (1 − lr·λ): the difference AdamW exists for.
        var start = new[] { 0.5, -1.0, 2.0 }; // = Target, so the loss gradient is 0
        var coupled = TinyProblem.Run(new Adam { LearningRate = 0.01, CoupledWeightDecay = 0.1, Epsilon = 1e-300 }, 1, start: start);
        var decoupled = TinyProblem.Run(new AdamW { LearningRate = 0.01, DecoupledWeightDecay = 0.1 }, 1, start: start);
        TinyProblem.AssertSamePath(new[] { new[] { 0.49, -0.99, 1.99 } }, coupled);
        TinyProblem.AssertSamePath(new[] { new[] { 0.5 * 0.999, -1.0 * 0.999, 2.0 * 0.999 } }, decoupled);
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new AdamW();
        Assert.Equal((0.001, 0.004, 0.9, 0.999, 1e-7), (o.LearningRate, o.DecoupledWeightDecay, o.Beta1, o.Beta2, o.Epsilon));
    }

    [Fact]
    public void NegativeDecayIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW { DecoupledWeightDecay = -0.1 }.Validate());
        Assert.Contains("AdamW.DecoupledWeightDecay must be a finite number >= 0", e.Message);
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new AdamW(), _log);
        Assert.True(accuracy > 0.72, $"test accuracy {accuracy:F3}");
    }
}
