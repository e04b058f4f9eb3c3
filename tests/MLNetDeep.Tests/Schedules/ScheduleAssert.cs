using Xunit;

namespace MLNetDeep.Tests.Schedules;

internal static class ScheduleAssert
{
    /// <summary>Element-wise equality of rate sequences to <paramref name="tolerance"/>.</summary>
    public static void Rates(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double tolerance = 1e-12)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"step {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }
}
