using MLNetDeep.Training;
using Microsoft.ML;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Optimizers;
using MLNetDeep.Tests.Control;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.EarlyStopping;

[Trait("Category", "Unit")]
public class EarlyStoppingTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 1000, 500));
    private readonly ITestOutputHelper _out;

    public EarlyStoppingTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Stops_when_validation_loss_stops_improving_and_restores_the_best_epoch()
    {
        var options = ControlKit.Mlp(new[] { 256 }, epochs: 40);
        options.Optimizer = new Adam { LearningRate = 0.005 }; // overfits 1000 rows within a few epochs
        options.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationLoss, Patience = 3 };
        using var model = ControlKit.Fit(options, Small.Value.Train, Small.Value.Test);
        var h = model.History;
        foreach (var e in h.Epochs) _out.WriteLine(e.ToString());
        _out.WriteLine(h.StopReason);

        Assert.True(h.Epochs.Count < 40, "never stopped");
        Assert.StartsWith($"early stopping after epoch {h.StoppedEpoch}", h.StopReason);
        int best = h.Epochs.MinBy(e => e.ValidationLoss!.Value)!.Epoch;
        Assert.Equal(best, h.BestEpoch);
        Assert.Equal(best, h.RestoredEpoch);
        Assert.Equal(best + 3, h.StoppedEpoch);
        // The returned model scores exactly as the best epoch did.
        Assert.Equal(h.Epochs[best - 1].ValidationMetrics["accuracy"], ControlKit.Accuracy(Ml, model, Small.Value.Test), 6);
        Assert.Equal(h.Epochs[best - 1].ValidationLoss!.Value, Ml.MulticlassClassification.Evaluate(model.Transform(Small.Value.Test)).LogLoss, 4);
    }

    [Fact]
    public void Monitors_validation_accuracy_upwards_and_can_keep_the_last_weights()
    {
        var options = ControlKit.Mlp(new[] { 64 }, epochs: 6);
        options.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("accuracy"), Patience = 100, RestoreBestWeights = false };
        using var model = ControlKit.Fit(options, Small.Value.Train, Small.Value.Test);
        var h = model.History;
        Assert.Equal(6, h.Epochs.Count);
        Assert.Equal("completed all 6 epochs", h.StopReason);
        Assert.Equal(h.Epochs.MaxBy(e => e.ValidationMetrics["accuracy"])!.Epoch, h.BestEpoch);
        Assert.Null(h.RestoredEpoch);
        Assert.Equal(h.Epochs[^1].ValidationMetrics["accuracy"], ControlKit.Accuracy(Ml, model, Small.Value.Test), 6);
    }

    [Fact]
    public void Bad_settings_get_clear_messages()
    {
        var options = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        options.EarlyStopping = new EarlyStoppingOptions { Patience = -1 };
        Assert.Contains("Received: Patience=-1", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, Small.Value.Train, Small.Value.Test)).Message);

        options.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationLoss };
        var ex = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, Small.Value.Train));
        Assert.Contains("needs validation data", ex.Message);

        options.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("f2") };
        ex = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, Small.Value.Train, Small.Value.Test));
        Assert.Contains("reports no validation metric 'f2'", ex.Message);
        Assert.Contains("Monitored.ValidationMetric(\"accuracy\")", ex.Message);
    }
}
