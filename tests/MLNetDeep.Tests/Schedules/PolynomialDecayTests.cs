using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class PolynomialDecayTests
{
    [Fact]
    public void QuadraticDecayToTheEndRateThenHold()
    {
        // (1 − 0.2)·(1 − k/4)² + 0.2, held at 0.2 after step 4.
        var rates = new PolynomialDecay { DecaySteps = 4, EndRate = 0.2, Power = 2 }.Preview(1.0, 6);
        ScheduleAssert.Rates(new[] { 1.0, 0.65, 0.4, 0.25, 0.2, 0.2 }, rates);
    }

    [Fact]
    public void CycleStretchesTheHorizon()
    {
        // Keras: horizon = 4·ceil(k/4) (4 at k = 0), rate = 1 − k/horizon (linear, end 0).
        var rates = new PolynomialDecay { DecaySteps = 4, EndRate = 0, Cycle = true }.Preview(1.0, 10);
        ScheduleAssert.Rates(new[] { 1.0, 0.75, 0.5, 0.25, 0.0, 0.375, 0.25, 0.125, 0.0, 0.25 }, rates);
    }

    [Fact]
    public void KerasDefaultsAndValidation()
    {
        var s = new PolynomialDecay { DecaySteps = 10 };
        Assert.Equal((1e-4, 1.0, false), (s.EndRate, s.Power, s.Cycle));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PolynomialDecay { DecaySteps = 0 }.Validate());
        Assert.Contains("PolynomialDecay.DecaySteps must be > 0. Received: DecaySteps=0", e.Message);
    }
}
