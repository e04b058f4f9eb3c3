using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class ConstantScheduleTests
{
    [Fact]
    public void EveryStepHasTheInitialRate() => ScheduleAssert.Rates(new[] { 0.1, 0.1, 0.1, 0.1 }, new ConstantSchedule().Preview(0.1, 4));

    [Fact]
    public void PreviewOfZeroStepsIsEmptyAndNegativeIsRejected()
    {
        Assert.Empty(new ConstantSchedule().Preview(0.1, 0));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule().Preview(0.1, -1));
        Assert.Contains("Received: steps=-1", e.Message);
    }
}
