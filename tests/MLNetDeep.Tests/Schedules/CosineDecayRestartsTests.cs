using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class CosineDecayRestartsTests
{
    [Fact]
    public void PeriodsDoubleAndRestartsHalve()
    {
        // Periods [0, 2), [2, 6), [6, 14); restart i starts at 0.5ⁱ.
        double c = Math.Sqrt(0.5);
        var rates = new CosineDecayRestarts { FirstDecaySteps = 2, TMul = 2, MMul = 0.5 }.Preview(1.0, 7);
        ScheduleAssert.Rates(new[] { 1.0, 0.5, 0.5, 0.25 * (1 + c), 0.25, 0.25 * (1 - c), 0.25 }, rates);
    }

    // Keras' closed form: i = floor(log(1 − f(1 − tMul))/log tMul), f ← (f − (1 − tMul^i)/(1 − tMul))/tMul^i (or i = floor(f) when tMul = 1).
    private static double Keras(double initial, double first, double tMul, double mMul, double alpha, long step)
    {
        double f = step / first;
        double i;
        if (tMul == 1.0)
        {
            i = Math.Floor(f);
            f -= i;
        }
        else
        {
            i = Math.Floor(Math.Log(1 - f * (1 - tMul)) / Math.Log(tMul));
            double sum = (1 - Math.Pow(tMul, i)) / (1 - tMul);
            f = (f - sum) / Math.Pow(tMul, i);
        }
        double cosine = 0.5 * Math.Pow(mMul, i) * (1 + Math.Cos(Math.PI * f));
        return initial * ((1 - alpha) * cosine + alpha);
    }

    [Theory]
    [InlineData(10, 2.0, 1.0, 0.0)]
    [InlineData(7, 1.0, 0.8, 0.1)]
    [InlineData(5, 1.5, 0.9, 0.05)]
    public void MatchesKerasClosedFormOver100Steps(long first, double tMul, double mMul, double alpha)
    {
        var schedule = new CosineDecayRestarts { FirstDecaySteps = first, TMul = tMul, MMul = mMul, Alpha = alpha };
        var expected = Enumerable.Range(0, 100).Select(k => Keras(0.3, first, tMul, mMul, alpha, k)).ToArray();
        ScheduleAssert.Rates(expected, schedule.Preview(0.3, 100), 1e-9);
    }

    [Fact]
    public void ShrinkingPeriodsAreRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecayRestarts { FirstDecaySteps = 10, TMul = 0.5 }.Validate());
        Assert.Contains("Received: TMul=0.5", e.Message);
    }
}
