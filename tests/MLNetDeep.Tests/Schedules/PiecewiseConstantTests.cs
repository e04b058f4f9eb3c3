using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class PiecewiseConstantTests
{
    [Fact]
    public void ValuesChangeAfterEachBoundary()
    {
        // Keras: values[0] for step ≤ 2, values[1] for 2 < step ≤ 5, values[2] after; the initial rate is not used.
        var schedule = new PiecewiseConstant { Boundaries = new long[] { 2, 5 }, Values = new[] { 1.0, 0.5, 0.1 } };
        ScheduleAssert.Rates(new[] { 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1 }, schedule.Preview(123.0, 8));
    }

    [Fact]
    public void PerEpochUnitUsesTheEpochIndex()
    {
        var schedule = new PiecewiseConstant { Boundaries = new long[] { 0 }, Values = new[] { 0.2, 0.02 }, Unit = ScheduleUnit.Epoch };
        // 3 epochs of 2 batches: epoch 0 at 0.2, then 0.02.
        ScheduleAssert.Rates(new[] { 0.2, 0.2, 0.02, 0.02, 0.02, 0.02 }, schedule.Preview(1.0, 3, 2));
    }

    [Fact]
    public void WrongNumberOfValuesIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new PiecewiseConstant { Boundaries = new long[] { 10 }, Values = new[] { 1.0 } }.Validate());
        Assert.Contains("one more value than boundaries. Received: 1 boundaries and 1 values", e.Message);
    }

    [Fact]
    public void BoundariesMustIncrease()
    {
        var e = Assert.Throws<ArgumentException>(() => new PiecewiseConstant { Boundaries = new long[] { 10, 10 }, Values = new[] { 1.0, 0.5, 0.1 } }.Validate());
        Assert.Contains("strictly increasing", e.Message);
    }
}
