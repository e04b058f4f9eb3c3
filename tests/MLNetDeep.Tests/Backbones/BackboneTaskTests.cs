using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Backbones;

/// <summary>The backbone under a binary and a regression head, on real images: it learns, saves and loads.</summary>
[Trait("Category", "Training")]
public sealed class BackboneTaskTests
{
    private static readonly HashSet<string> Footwear = new() { "Sandal", "Sneaker", "Ankle boot" };
    private readonly ITestOutputHelper _out;
    public BackboneTaskTests(ITestOutputHelper output) => _out = output;

    private sealed class TaskRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public bool IsFootwear { get; set; }
        public float Ink { get; set; }
    }

    /// <summary>Fashion-MNIST at 64 × 64 with two real targets: footwear or not, and the share of pixels above 0.5 ("ink").</summary>
    private static IDataView View(MLContext ml, bool train, int n)
    {
        var rows = BackboneData.Rows(train, n).Select(r => new TaskRow
        {
            Features = r.Features, IsFootwear = Footwear.Contains(r.Label), Ink = r.Features.Count(v => v > 0.5f) / (float)r.Features.Length,
        });
        var schema = SchemaDefinition.Create(typeof(TaskRow));
        schema[nameof(TaskRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, BackboneData.Size * BackboneData.Size);
        return ml.Data.LoadFromEnumerable(rows.ToList(), schema);
    }

    [Fact]
    public void Binary_and_regression_heads_on_the_backbone_learn_and_save()
    {
        var ml = new MLContext(seed: 1);
        var train = View(ml, train: true, 240);
        var test = View(ml, train: false, 120);

        var binaryOptions = BackboneData.Options(epochs: 15);
        binaryOptions.LabelColumnName = nameof(TaskRow.IsFootwear);
        using var binary = ml.BinaryClassification.Trainers.Cnn(binaryOptions).Fit(train);
        var b = ml.BinaryClassification.Evaluate(binary.Transform(test), labelColumnName: nameof(TaskRow.IsFootwear));
        _out.WriteLine($"footwear or not: AUC {b.AreaUnderRocCurve:F4}, accuracy {b.Accuracy:F4}");
        Assert.True(b.AreaUnderRocCurve > 0.9, $"AUC {b.AreaUnderRocCurve:F4}");

        // The head phase trains on cached features, so epochs are cheap: the recipe of samples/PretrainedImages (many
        // epochs at Adam 3e-3). At the default rate and 30 epochs the linear head on ResNet18's unscaled 512 pooled
        // features was still far from converged (training R² 0.38).
        var regressionOptions = BackboneData.Options(epochs: 150);
        regressionOptions.Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = 3e-3 };
        regressionOptions.LabelColumnName = nameof(TaskRow.Ink);
        using var regression = ml.Regression.Trainers.Cnn(regressionOptions).Fit(train);
        var r = ml.Regression.Evaluate(regression.Transform(test), labelColumnName: nameof(TaskRow.Ink));
        _out.WriteLine($"ink share: R² {r.RSquared:F4}, RMSE {r.RootMeanSquaredError:F4}");
        Assert.True(r.RSquared > 0.5, $"R² {r.RSquared:F4}");

        foreach (var (model, column) in new[] { (binary, "Score"), (regression, "Score") })
        {
            var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-backbone-task-{Guid.NewGuid():N}.mlnd");
            try
            {
                model.Save(path);
                using var loaded = DeepTransformer.Load(path);
                Assert.Equal(model.Transform(test).GetColumn<float>(column).ToArray(), loaded.Transform(test).GetColumn<float>(column).ToArray());
            }
            finally { File.Delete(path); }
        }
    }

    [Fact]
    public void The_learning_rate_range_test_runs_on_a_backbone_trainer()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = BackboneData.Views(ml, 160, 1);
        var result = ml.MulticlassClassification.Trainers.Cnn(BackboneData.Options()).FindLearningRate(train, new LearningRateFinderOptions { Steps = 20 });
        _out.WriteLine($"{result.Rates.Count} rates, suggested {result.SuggestedRate:G3}, stop: {result.StopReason}");
        Assert.True(result.Rates.Count >= 10, $"{result.Rates.Count} rates");
        Assert.True(result.Rates.Zip(result.Rates.Skip(1)).All(p => p.Second > p.First), "rates must rise");
        Assert.All(result.Losses, l => Assert.True(double.IsFinite(l), $"loss {l}"));
    }
}
