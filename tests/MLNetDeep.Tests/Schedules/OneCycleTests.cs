using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class OneCycleTests
{
    private static double Cos(double start, double end, double pct) => end + (start - end) / 2 * (1 + Math.Cos(Math.PI * pct));

    [Fact]
    public void TwoPhasesCosine()
    {
        // PyTorch OneCycleLR(max_lr=1, total_steps=10): start 1/25 = 0.04, minimum 0.04/1e4; phase 1 ends at 0.3·10 − 1 = 2, phase 2 at 9.
        var rates = new OneCycle { TotalSteps = 10 }.Preview(1.0, 12);
        var expected = new List<double> { 0.04, Cos(0.04, 1, 0.5), 1.0 };
        for (int k = 3; k <= 9; k++) expected.Add(Cos(1.0, 4e-6, (k - 2) / 7.0));
        expected.Add(4e-6); // held past the end
        expected.Add(4e-6);
        ScheduleAssert.Rates(expected, rates);
        Assert.Equal(1.0, rates.Max(), 12);
    }

    [Fact]
    public void ThreePhasesLinear()
    {
        // total 20, pct 0.25: phase ends 4, 8, 19; 0.1 → 1 → 0.1 → 0.1/100 with DivFactor 10, FinalDivFactor 100.
        var rates = new OneCycle { TotalSteps = 20, PctStart = 0.25, DivFactor = 10, FinalDivFactor = 100, AnnealStrategy = AnnealStrategy.Linear, ThreePhase = true }.Preview(1.0, 20);
        double Lin(double a, double b, double p) => a + (b - a) * p;
        var expected = new List<double>();
        for (int k = 0; k <= 4; k++) expected.Add(Lin(0.1, 1.0, k / 4.0));
        for (int k = 5; k <= 8; k++) expected.Add(Lin(1.0, 0.1, (k - 4) / 4.0));
        for (int k = 9; k <= 19; k++) expected.Add(Lin(0.1, 0.001, (k - 8) / 11.0));
        ScheduleAssert.Rates(expected, rates);
    }

    [Fact]
    public void TooFewStepsForThePhasesAreRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycle { TotalSteps = 3 }.Validate());
        Assert.Contains("every phase needs at least one step", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycle { TotalSteps = 100, PctStart = 1.2 }.Validate());
    }
}
