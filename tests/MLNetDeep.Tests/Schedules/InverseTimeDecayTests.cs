using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class InverseTimeDecayTests
{
    [Fact]
    public void ContinuousDecay()
    {
        // 1/(1 + 0.5·k/2)
        var rates = new InverseTimeDecay { DecaySteps = 2, DecayRate = 0.5 }.Preview(1.0, 5);
        ScheduleAssert.Rates(new[] { 1.0, 0.8, 1 / 1.5, 1 / 1.75, 0.5 }, rates);
    }

    [Fact]
    public void StaircaseDecay()
    {
        var rates = new InverseTimeDecay { DecaySteps = 2, DecayRate = 0.5, Staircase = true }.Preview(1.0, 5);
        ScheduleAssert.Rates(new[] { 1.0, 1.0, 1 / 1.5, 1 / 1.5, 0.5 }, rates);
    }

    [Fact]
    public void NegativeDecayRateIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new InverseTimeDecay { DecaySteps = 2, DecayRate = -1 }.Validate());
        Assert.Contains("Received: DecayRate=-1", e.Message);
    }
}
