using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Persistence;
using MLNetDeep.Regularization;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Sequence;
using MLNetDeep.Training;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Engine;

/// <summary>The engine's contracts: task-owned losses, typed monitors, seeds, output names, untouched options.</summary>
[Trait("Category", "Training")]
public class EngineTests
{
    private static SequenceOptions Tagger() => new()
    {
        Input = new TokenSequence(16), HiddenSize = 16, Epochs = 4, BatchSize = 16, LabelColumnName = "TagKeys", FeatureColumnName = "Tokens", Seed = 2,
    };

    [Fact]
    public void Tagging_loss_with_label_smoothing_and_tag_weights_is_the_weighted_mean_over_real_steps()
    {
        var head = TaskHead.For(PredictionKind.SequenceTagging);
        using var scope = NewDisposeScope();
        var output = tensor(new float[] { 2, 0, 0, 0, 1, 0, 1, 1, 3, 9, 9, 9 }, new long[] { 2, 2, 3 }); // row 1's step 2 is padding
        var labels = tensor(new long[] { 0, 2, 1, SequenceTaggingHead.PaddingLabel }, new long[] { 2, 2 });
        var weights = tensor(new float[] { 1f, 2f, 4f });
        double eps = 0.3;
        double Ce(float[] z, int y)
        {
            double max = z.Max(), lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
            double nll = lse - z[y], uniform = z.Average(v => lse - v);
            return (1 - eps) * nll + eps * uniform; // PyTorch's label smoothing: (1-ε)·NLL + ε·mean over classes
        }
        // real steps: (row 0, step 0, tag 0), (row 0, step 1, tag 2), (row 1, step 0, tag 1)
        double expected = (1 * Ce(new float[] { 2, 0, 0 }, 0) + 4 * Ce(new float[] { 0, 1, 0 }, 2) + 2 * Ce(new float[] { 1, 1, 3 }, 1)) / (1 + 4 + 2);
        double actual = head.TrainingLoss(output, labels, null, eps, weights).item<float>();
        Assert.Equal(expected, actual, 5);
        // Without smoothing and weights it is the plain per-step loss.
        Assert.Equal(TaskHead.Reduce(head.Loss(output, labels), null).item<float>(), head.TrainingLoss(output, labels, null, 0, null).item<float>());
    }

    [Fact]
    public void A_tagger_trains_with_label_smoothing_and_balanced_tag_weights()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(300, seed: 3));
        var x = SequenceData.TaggingFeaturizer(ml, data).Transform(data);
        using var plain = ml.MulticlassClassification.Trainers.SequenceTagging(Tagger()).Fit(x);
        var o = Tagger();
        o.Regularization = new RegularizationOptions { LabelSmoothing = 0.2, BalanceClasses = true, GradientClipNorm = 1.0 };
        using var regularized = ml.MulticlassClassification.Trainers.SequenceTagging(o).Fit(x);

        var m0 = ml.MulticlassClassification.EvaluateSequenceTagging(plain.Transform(x), "TagKeys");
        var m1 = ml.MulticlassClassification.EvaluateSequenceTagging(regularized.Transform(x), "TagKeys");
        // It learns (O is most steps; a constant tagger's macro accuracy is 1/4).
        Assert.True(m1.MacroStepAccuracy > 0.6, $"macro step accuracy {m1.MacroStepAccuracy:F3}");
        // Smoothing caps confidence: the most probable tag's mean probability is lower than without it.
        static double MeanTop(IDataView scored, int tags) => scored.GetColumn<float[]>("Score")
            .SelectMany(s => s.Chunk(tags).Select(step => (double)step.Max())).Average();
        double top0 = MeanTop(plain.Transform(x), plain.ClassNames.Count), top1 = MeanTop(regularized.Transform(x), regularized.ClassNames.Count);
        Assert.True(top1 < top0 - 0.02, $"mean top probability {top1:F3} with smoothing vs {top0:F3} without");
        // Validation loss stays the plain loss (comparable across runs): equal for equal weights.
        Assert.NotEqual(m0.StepAccuracy, 0);
    }

    [Fact]
    public void Monitors_are_typed_and_the_old_string_spellings_are_refused_naming_the_replacement()
    {
        var conversion = typeof(Monitored).GetMethods(BindingFlags.Public | BindingFlags.Static).Single(m => m.Name == "op_Implicit");
        var obsolete = conversion.GetCustomAttribute<ObsoleteAttribute>()!;
        Assert.True(obsolete.IsError); // `Monitor = "val_loss"` does not compile; the compiler prints this message
        Assert.Contains("Monitored.ValidationLoss", obsolete.Message);
        string Refusal(string s) => Assert.IsType<ArgumentException>(Assert.Throws<TargetInvocationException>(() => conversion.Invoke(null, new object[] { s })).InnerException).Message;
        Assert.Contains("Use Monitored.ValidationLoss", Refusal("val_loss"));
        Assert.Contains("Monitored.TrainingLoss for the training loss, or Monitored.ValidationLoss", Refusal("loss"));
        Assert.Contains("Monitored.ValidationMetric(\"accuracy\")", Refusal("val_accuracy"));

        Assert.Equal("val_accuracy", Monitored.ValidationMetric("accuracy").ToString());
        Assert.Equal(Monitored.ValidationMetric("rmse"), JsonSerializer.Deserialize<Monitored>(JsonSerializer.Serialize(Monitored.ValidationMetric("rmse"), Json.Options), Json.Options));
        Assert.Throws<ArgumentException>(() => Monitored.ValidationMetric(" "));
    }

    [Fact]
    public void Early_stopping_on_a_regression_metric_watches_it_fall()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Adding(200, 10, seed: 1));
        var options = new SequenceOptions
        {
            Input = new NumericSequence(2), HiddenSize = 8, Epochs = 6, ValidationFraction = 0.25, Seed = 1,
            EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("rmse"), Patience = 100 },
        };
        using var model = ml.Regression.Trainers.Sequence(options).Fit(data);
        var h = model.History;
        Assert.Equal(h.Epochs.MinBy(e => e.ValidationMetrics["rmse"])!.Epoch, h.BestEpoch);
        Assert.Equal(h.BestEpoch, h.RestoredEpoch);
    }

    [Fact]
    public void The_seed_defaults_to_the_MLContext_seed()
    {
        static float[] Weights(MLContext ml, int? seed)
        {
            var data = ml.Data.LoadFromEnumerable(SequenceData.Adding(64, 6, seed: 1));
            using var m = ml.Regression.Trainers.Sequence(new SequenceOptions { Input = new NumericSequence(2), HiddenSize = 4, Epochs = 1, Seed = seed }).Fit(data);
            return m.Network.parameters().SelectMany(p => ControlKit.Flat(p)).ToArray();
        }
        Assert.Equal(Weights(new MLContext(seed: 7), 7), Weights(new MLContext(seed: 7), null));
        Assert.Equal(Weights(new MLContext(seed: 7), null), Weights(new MLContext(seed: 7), null));
        Assert.NotEqual(Weights(new MLContext(seed: 7), null), Weights(new MLContext(seed: 8), null));
    }

    [Fact]
    public void Output_column_names_are_options_and_the_model_keeps_them()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = ControlKit.Data(ml, 300, 100);
        var options = ControlKit.Mlp(new[] { 32 }, epochs: 4);
        options.ScoreColumnName = "Probabilities";
        options.PredictedLabelColumnName = "Garment";
        var pipeline = ml.MulticlassClassification.Trainers.Cnn(options).Append(ml.Transforms.Conversion.MapKeyToValue("GarmentName", "Garment"));
        var chain = pipeline.Fit(train);
        using var model = chain.GetDeepTransformer();
        var scored = model.Transform(test);
        Assert.Equal(100, chain.Transform(test).GetColumn<ReadOnlyMemory<char>>("GarmentName").Count());
        Assert.Null(scored.Schema.GetColumnOrNull("Score"));
        var metrics = ml.MulticlassClassification.Evaluate(scored, scoreColumnName: "Probabilities", predictedLabelColumnName: "Garment");
        Assert.True(metrics.MicroAccuracy > 0.4, $"accuracy {metrics.MicroAccuracy}"); // chance is 0.1
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        using var loaded = DeepTransformer.Load(stream);
        Assert.NotNull(loaded.Transform(test).Schema.GetColumnOrNull("Garment"));
        // Saved in an ML.NET zip (through ONNX) the pipeline keeps the names and the values.
        using var zip = new MemoryStream();
        ml.Model.Save(chain, train.Schema, zip);
        zip.Position = 0;
        var reloaded = ml.Model.Load(zip, out _).Transform(test);
        Assert.Null(reloaded.Schema.GetColumnOrNull("Score"));
        Assert.Equal(chain.Transform(test).GetColumn<ReadOnlyMemory<char>>("GarmentName").Select(v => v.ToString()),
            reloaded.GetColumn<ReadOnlyMemory<char>>("GarmentName").Select(v => v.ToString()));
        var before = scored.GetColumn<float[]>("Probabilities").ToArray();
        var after = reloaded.GetColumn<float[]>("Probabilities").ToArray();
        for (int i = 0; i < before.Length; i++) Assert.True(before[i].Zip(after[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-5f, $"row {i}");

        options.ProbabilityColumnName = "Garment";
        Assert.Contains("must differ", Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(options).Fit(train)).Message);
    }

    [Fact]
    public void Training_never_changes_the_users_options()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = ControlKit.Data(ml, 200, 100);
        var options = ControlKit.Mlp(new[] { 8 }, epochs: 2);
        options.Augmentation = new MLNetDeep.Augmentation.ImageAugmentation { HorizontalFlipProbability = 0.5 };
        options.EarlyStopping = new EarlyStoppingOptions { Patience = 1 };
        options.LearningRateSchedule = new MLNetDeep.Schedules.ReduceOnPlateau { Patience = 0 };
        options.Seed = null;
        string before = JsonSerializer.Serialize(options, Json.Options);
        using (ml.MulticlassClassification.Trainers.Cnn(options).Fit(train, test)) { }
        Assert.Equal(before, JsonSerializer.Serialize(options, Json.Options));
        Assert.Null(options.Seed);
    }
}
