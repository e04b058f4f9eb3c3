using System.Text.Json;
using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class CustomScheduleTests
{
    private static readonly CustomSchedule HalveEachEpochAndDecayInside =
        new((step, epoch, lr0) => lr0 * Math.Pow(0.5, epoch) / (1 + step % 3), "halve per epoch, 1/(1+k) inside");

    [Fact]
    public void TheFunctionSeesBatchAndEpoch()
    {
        // 2 epochs × 3 batches: global batch k, epoch e → lr0·0.5^e/(1 + k mod 3).
        ScheduleAssert.Rates(new[] { 1.0, 0.5, 1 / 3.0, 0.5, 0.25, 0.5 / 3 }, HalveEachEpochAndDecayInside.Preview(1.0, 2, 3));
    }

    [Fact]
    public void OneArgumentPreviewPassesEpochZero() =>
        ScheduleAssert.Rates(new[] { 1.0, 0.5, 1 / 3.0, 1.0 }, HalveEachEpochAndDecayInside.Preview(1.0, 4));

    [Fact]
    public void SavedAsJsonItKeepsOnlyItsDescriptionAndSaysSoWhenUsed()
    {
        var json = JsonSerializer.Serialize<LearningRateSchedule>(HalveEachEpochAndDecayInside);
        Assert.Contains("\"kind\":\"custom\"", json);
        Assert.Contains("halve per epoch", json);
        var back = JsonSerializer.Deserialize<LearningRateSchedule>(json)!;
        var e = Assert.Throws<InvalidOperationException>(() => back.Preview(1.0, 1));
        Assert.Contains("cannot be saved as JSON", e.Message);
        Assert.Contains("halve per epoch", e.Message);
    }

    [Fact]
    public void InvalidRatesAreReportedWithTheStep()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new CustomSchedule((s, _, _) => s == 2 ? double.NaN : 0.1).Preview(1.0, 3));
        Assert.Contains("returned NaN for step 2", e.Message);
    }
}
