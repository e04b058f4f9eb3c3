using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class CosineDecayTests
{
    [Fact]
    public void HalfCosineDownToAlphaThenHold()
    {
        // (1 − 0.1)·½(1 + cos(πk/4)) + 0.1
        double c1 = 0.5 * (1 + Math.Sqrt(0.5)), c3 = 0.5 * (1 - Math.Sqrt(0.5));
        var rates = new CosineDecay { DecaySteps = 4, Alpha = 0.1 }.Preview(1.0, 6);
        ScheduleAssert.Rates(new[] { 1.0, 0.9 * c1 + 0.1, 0.55, 0.9 * c3 + 0.1, 0.1, 0.1 }, rates);
    }

    [Fact]
    public void ScalesWithTheInitialRate()
    {
        var s = new CosineDecay { DecaySteps = 10 };
        Assert.Equal(0.05, s.GetRate(0.1, 5), 12);
        Assert.Equal(0.0, s.GetRate(0.1, 10), 12);
    }

    [Fact]
    public void AlphaOutsideZeroOneIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay { DecaySteps = 10, Alpha = 1.5 }.Validate());
        Assert.Contains("CosineDecay.Alpha must be in [0, 1]", e.Message);
    }
}
