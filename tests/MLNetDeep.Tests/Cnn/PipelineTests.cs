using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using TorchSharp;
using Xunit;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Tests.Cnn;

/// <summary>The trained transformer behaves as an ordinary ML.NET component.</summary>
[Trait("Category", "Training")]
public class PipelineTests
{
    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private static (MLContext Ml, IEnumerable<ITransformer> Model, DeepTransformer Cnn) TrainTiny(int rows = 1500, int epochs = 1, CnnOptions? options = null)
    {
        var ml = new MLContext(seed: 1);
        var pipeline = Tiny.Multiclass(ml, options ?? Tiny.Options(epochs)).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(TestData.TrainView(ml, rows));
        return (ml, model, ((ITransformer)model).Deep());
    }

    [Fact]
    public void Output_columns_follow_MLNet_conventions_and_MapKeyToValue_gives_class_names()
    {
        var (ml, model, cnn) = TrainTiny();
        var scored = ((ITransformer)model).Transform(TestData.TestView(ml, 200));
        var score = scored.Schema["Score"];
        Assert.Equal(10, ((VectorDataViewType)score.Type).Size);
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        score.GetSlotNames(ref slotNames);
        Assert.Equal(cnn.ClassNames, slotNames.DenseValues().Select(s => s.ToString()));
        Assert.Equal(FashionMnist.ClassNames.OrderBy(s => s), cnn.ClassNames.OrderBy(s => s));
        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        Assert.All(predicted, p => Assert.Contains(p, FashionMnist.ClassNames));
        var probabilities = scored.GetColumn<float[]>("Score").ToArray();
        Assert.All(probabilities, p => Assert.Equal(1.0, p.Sum(), 4));
        // PredictedLabel is the argmax of Score.
        var names = cnn.ClassNames;
        Assert.Equal(probabilities.Select(p => names[Array.IndexOf(p, p.Max())]), predicted);
    }

    [Fact]
    public void PredictionEngine_matches_batched_Transform()
    {
        var (ml, model, _) = TrainTiny();
        var images = TestData.TestImages(40);
        var batched = ((ITransformer)model).Transform(ml.Data.LoadFromEnumerable(images)).GetColumn<float[]>("Score").ToArray();
        var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>((ITransformer)model);
        for (int i = 0; i < images.Count; i++)
        {
            var p = engine.Predict(images[i]);
            for (int k = 0; k < 10; k++) Assert.Equal(batched[i][k], p.Score[k], 1e-6);
        }
    }

    [Fact]
    public void Transform_scores_identically_for_any_scoring_batch_size()
    {
        var (ml, model, cnn) = TrainTiny();
        var test = ((ITransformer)model).First().Transform(TestData.TestView(ml, 301));
        cnn.ScoringBatchSize = 256;
        var a = cnn.Transform(test).GetColumn<float[]>("Score").ToArray();
        cnn.ScoringBatchSize = 7;
        var b = cnn.Transform(test).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(301, a.Length);
        for (int i = 0; i < a.Length; i++)
            for (int k = 0; k < 10; k++) Assert.Equal(a[i][k], b[i][k], 1e-6);
    }

    [Fact]
    public void CrossValidate_runs_every_fold()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.TrainView(ml, 1500)).Transform(TestData.TrainView(ml, 1500));
        var results = ml.MulticlassClassification.CrossValidate(data, ml.MulticlassClassification.Trainers.Cnn(Tiny.Options(epochs: 2)), numberOfFolds: 3);
        Assert.Equal(3, results.Count);
        Assert.All(results, r => Assert.True(r.Metrics.MicroAccuracy > 0.5, $"fold accuracy {r.Metrics.MicroAccuracy:F3}"));
    }

    [Fact]
    public void Save_then_load_restores_identical_scores_from_file_and_stream()
    {
        var (ml, model, cnn) = TrainTiny();
        var test = ((ITransformer)model).First().Transform(TestData.TestView(ml, 300));
        var before = cnn.Transform(test).GetColumn<float[]>("Score").ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-{Guid.NewGuid():N}.mlnd");
        try
        {
            cnn.Save(path);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}*.tmp"));
            using var fromFile = DeepTransformer.Load(path);
            using var ms = new MemoryStream();
            cnn.Save(ms);
            ms.Position = 0;
            using var fromStream = DeepTransformer.Load(ms);
            foreach (var loaded in new[] { fromFile, fromStream })
            {
                var after = loaded.Transform(test).GetColumn<float[]>("Score").ToArray();
                for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
                Assert.Equal(cnn.ClassNames, loaded.ClassNames);
                Assert.Equal(cnn.History.Epochs.Count, loaded.History.Epochs.Count);
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Warm_start_continues_from_the_saved_weights()
    {
        var (ml, model, cnn) = TrainTiny(rows: 2000, epochs: 2);
        var data = ((ITransformer)model).First().Transform(TestData.TrainView(ml, 2000));
        var fresh = ml.MulticlassClassification.Trainers.Cnn(Tiny.Options(epochs: 1)).Fit(data);
        var options = Tiny.Options(epochs: 1);
        options.WarmStartFrom = cnn;
        var continued = ml.MulticlassClassification.Trainers.Cnn(options).Fit(data);
        // A continued run starts where the first one ended, so its first epoch's loss is below a fresh first epoch's.
        Assert.True(continued.History.Epochs[0].TrainLoss < fresh.History.Epochs[0].TrainLoss,
            $"continued {continued.History.Epochs[0].TrainLoss:F4} vs fresh {fresh.History.Epochs[0].TrainLoss:F4}");
        Assert.True(continued.History.Epochs[0].TrainLoss <= cnn.History.Epochs[^1].TrainLoss * 1.1);

        var mismatched = Tiny.Options(epochs: 1);
        mismatched.Head = new Models.DenseHead { HiddenSizes = new() { 16 } };
        mismatched.WarmStartFrom = cnn;
        var e = Record.Exception(() => ml.MulticlassClassification.Trainers.Cnn(mismatched).Fit(data));
        Assert.IsType<ArgumentException>(e);
        Assert.Contains("WarmStartFrom", e.Message);
    }

    [Fact]
    public void Same_seed_gives_identical_weights_and_a_different_seed_does_not()
    {
        static float[] Weights(DeepTransformer t) => t.Network.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.TrainView(ml, 800)).Transform(TestData.TrainView(ml, 800));
        using var a = ml.MulticlassClassification.Trainers.Cnn(Tiny.Options(epochs: 1, seed: 7)).Fit(data);
        using var b = ml.MulticlassClassification.Trainers.Cnn(Tiny.Options(epochs: 1, seed: 7)).Fit(data);
        using var c = ml.MulticlassClassification.Trainers.Cnn(Tiny.Options(epochs: 1, seed: 8)).Fit(data);
        Assert.Equal(Weights(a), Weights(b));
        Assert.NotEqual(Weights(a), Weights(c));
    }

    [Fact]
    public void Training_never_changes_the_users_options()
    {
        var ml = new MLContext(seed: 1);
        var options = Tiny.Options(epochs: 1);
        options.ValidationFraction = 0.2;
        string before = JsonSerializer.Serialize(options, Persistence.Json.Options);
        Tiny.Multiclass(ml, options).Fit(TestData.TrainView(ml, 600));
        Assert.Equal(before, JsonSerializer.Serialize(options, Persistence.Json.Options));
    }

    [Fact]
    public void Progress_reaches_the_MLNet_log_the_callback_and_the_history()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.RawMessage.StartsWith("epoch")) lock (lines) lines.Add(e.RawMessage); };
        var summaries = new List<EpochSummary>();
        var options = Tiny.Options(epochs: 2);
        options.ValidationFraction = 0.2;
        options.OnEpochEnd = summaries.Add;
        var model = Tiny.Multiclass(ml, options).Fit(TestData.TrainView(ml, 1000));
        var history = model.Deep().History;
        Assert.Equal(2, lines.Count);
        Assert.Matches(@"^epoch 1/2  loss \d+\.\d{4}  val_loss \d+\.\d{4}  val_accuracy \d\.\d{4}  lr 3e-3  .*s  ETA", lines[0]);
        Assert.Equal(2, summaries.Count);
        Assert.Equal(summaries.Select(s => s.TrainLoss), history.Epochs.Select(s => s.TrainLoss));
        Assert.Equal(800, history.TrainingRows);
        Assert.Equal(200, history.ValidationRows);
        Assert.Equal("completed all 2 epochs", history.StopReason);
        Assert.True(summaries[1].ValidationMetrics["accuracy"] > 0.3);
    }

    [Fact]
    public void Separate_validation_data_is_scored_every_epoch()
    {
        var ml = new MLContext(seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.TrainView(ml, 1000));
        var options = Tiny.Options(epochs: 2);
        var model = ml.MulticlassClassification.Trainers.Cnn(options)
            .Fit(keys.Transform(TestData.TrainView(ml, 1000)), keys.Transform(TestData.TestView(ml, 300)));
        Assert.Equal(300, model.History.ValidationRows);
        Assert.All(model.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
    }

    [Fact]
    public void Per_example_SGD_and_full_batch_gradient_descent_both_run()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.TrainView(ml, 200)).Transform(TestData.TrainView(ml, 200));
        var sgd = Tiny.Options(epochs: 1, batchSize: 1);
        sgd.Optimizer = new MLNetDeep.Optimizers.Sgd { LearningRate = 0.01 };
        var steps = new List<long>();
        sgd.Callbacks.Add(new StepCounter(steps));
        ml.MulticlassClassification.Trainers.Cnn(sgd).Fit(data);
        Assert.Equal(200, steps.Count);

        var full = Tiny.Options(epochs: 3, batchSize: TrainerOptions.FullBatch);
        steps.Clear();
        full.Callbacks.Add(new StepCounter(steps));
        var model = ml.MulticlassClassification.Trainers.Cnn(full).Fit(data);
        Assert.Equal(3, steps.Count);
        Assert.True(model.History.Epochs[2].TrainLoss < model.History.Epochs[0].TrainLoss);
    }

    private sealed class StepCounter : TrainingCallback
    {
        private readonly List<long> _steps;
        public StepCounter(List<long> steps) => _steps = steps;
        public override void OnBatchEnd(TrainingContext context, int batch, double loss) => _steps.Add(context.GlobalStep);
    }

    private sealed class TensorCounter : TrainingCallback
    {
        public readonly List<long> Live = new();
        public override void OnEpochEnd(TrainingContext context, EpochSummary summary) => Live.Add(LiveTensors());
    }

    /// <summary>Native tensors alive, after finalising whatever earlier code left to the GC.</summary>
    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return torch.Tensor.TotalCount;
    }

    [Fact]
    public void Many_epochs_do_not_leak_native_tensors()
    {
        var ml = new MLContext(seed: 1);
        var counter = new TensorCounter();
        var options = Tiny.Options(epochs: 6);
        options.ValidationFraction = 0.2;
        options.Callbacks.Add(counter);
        var model = Tiny.Multiclass(ml, options).Fit(TestData.TrainView(ml, 500));
        // Live tensors after epoch 2 and after epoch 6 are the same: nothing accumulates per step or epoch.
        Assert.Equal(counter.Live[1], counter.Live[5]);
        var cnn = model.Deep();
        var test = ((ITransformer)model).First().Transform(TestData.TestView(ml, 300));
        cnn.Transform(test).GetColumn<float[]>("Score").ToArray();
        long afterOne = LiveTensors();
        for (int i = 0; i < 3; i++) cnn.Transform(test).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(afterOne, LiveTensors());
    }
}
