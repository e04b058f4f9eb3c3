using MLNetDeep.Training;
using System.Text.Json;
using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

/// <summary>Every schedule saves and loads as JSON through the base type (models keep their options that way) and previews the same after.</summary>
[Trait("Category", "Unit")]
public class ScheduleJsonTests
{
    public static TheoryData<LearningRateSchedule> All() => new()
    {
        new ConstantSchedule(),
        new PiecewiseConstant { Boundaries = new long[] { 3, 7 }, Values = new[] { 0.1, 0.01, 0.001 } },
        new ExponentialDecay { DecaySteps = 3, DecayRate = 0.9, Staircase = true, Unit = ScheduleUnit.Epoch },
        new PolynomialDecay { DecaySteps = 5, EndRate = 0.001, Power = 2, Cycle = true },
        new InverseTimeDecay { DecaySteps = 2, DecayRate = 0.3 },
        new CosineDecay { DecaySteps = 6, Alpha = 0.2 },
        new CosineDecayRestarts { FirstDecaySteps = 3, TMul = 1.5, MMul = 0.7, Alpha = 0.1 },
        new OneCycle { TotalSteps = 12, PctStart = 0.25, ThreePhase = true, AnnealStrategy = AnnealStrategy.Linear },
        new ReduceOnPlateau { Monitor = Monitored.ValidationMetric("accuracy"), Patience = 3, Factor = 0.2, Cooldown = 1, MinRate = 1e-5 },
        new LinearWarmup { WarmupSteps = 3, StartFactor = 0.1, Schedule = new CosineDecay { DecaySteps = 5 } },
    };

    [Theory]
    [MemberData(nameof(All))]
    public void RoundTrips(LearningRateSchedule schedule)
    {
        var json = JsonSerializer.Serialize(schedule);
        var back = JsonSerializer.Deserialize<LearningRateSchedule>(json)!;
        Assert.Equal(schedule.GetType(), back.GetType());
        Assert.Equal(json, JsonSerializer.Serialize(back));
        Assert.Equal(schedule.Preview(0.1, 15), back.Preview(0.1, 15));
    }
}
