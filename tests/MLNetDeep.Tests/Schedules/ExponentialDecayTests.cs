using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class ExponentialDecayTests
{
    [Fact]
    public void ContinuousDecay()
    {
        // 0.1·0.5^(k/2)
        var rates = new ExponentialDecay { DecaySteps = 2, DecayRate = 0.5 }.Preview(0.1, 5);
        ScheduleAssert.Rates(new[] { 0.1, 0.1 / Math.Sqrt(2), 0.05, 0.05 / Math.Sqrt(2), 0.025 }, rates);
    }

    [Fact]
    public void StaircaseDecay()
    {
        var rates = new ExponentialDecay { DecaySteps = 2, DecayRate = 0.5, Staircase = true }.Preview(0.1, 6);
        ScheduleAssert.Rates(new[] { 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 }, rates);
    }

    [Fact]
    public void NonPositiveDecayStepsAreRejectedKerasStyle()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay { DecaySteps = -3, DecayRate = 0.9 }.Preview(0.1, 1));
        Assert.Contains("ExponentialDecay.DecaySteps must be > 0. Received: DecaySteps=-3", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay { DecaySteps = 10, DecayRate = 0 }.Validate());
    }
}
