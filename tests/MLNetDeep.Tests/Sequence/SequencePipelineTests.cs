using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Sequence;

/// <summary>What the engine gives every family, checked for sequences: save/load, warm start, PredictionEngine, progress, validation, clipping, init.</summary>
[Trait("Category", "Unit")]
public class SequencePipelineTests
{
    private sealed class SentencePrediction
    {
        public bool PredictedLabel { get; set; }
        public float Score { get; set; }
    }

    private sealed class TagPrediction
    {
        public uint[] PredictedLabel { get; set; } = Array.Empty<uint>();
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private static SequenceOptions Small(int epochs = 1) => new()
    {
        Input = new TokenSequence(8),
        FeatureColumnName = "Tokens",
        HiddenSize = 8,
        Epochs = epochs,
        BatchSize = 32,
        Optimizer = new Adam { LearningRate = 1e-2 },
    };

    [Fact]
    public void Save_then_load_gives_identical_outputs_for_many_to_one_tagging_and_numeric_models()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(200, seed: 1));
        var x = SequenceData.TaggingFeaturizer(ml, data).Transform(data);

        var options = Small();
        options.Layers = 2;
        options.Bidirectional = true;
        options.Summary = SequenceSummary.MaxOverTime;
        var sentiment = ml.BinaryClassification.Trainers.Sequence(options).Fit(x);
        var taggerOptions = Small();
        taggerOptions.LabelColumnName = "TagKeys";
        taggerOptions.Cell = RecurrentCell.Gru;
        var tagger = ml.MulticlassClassification.Trainers.SequenceTagging(taggerOptions).Fit(x);
        var series = ml.Data.LoadFromEnumerable(SequenceData.Adding(100, 12, seed: 1));
        var regressor = ml.Regression.Trainers.Rnn(new NumericSequence(2), hiddenSize: 8, nonlinearity: RnnNonlinearity.Relu, epochs: 1).Fit(series);

        foreach (var (model, input) in new[] { (sentiment, x), (tagger, x), (regressor, series) })
        {
            using var stream = new MemoryStream();
            model.Save(stream);
            stream.Position = 0;
            using var loaded = DeepTransformer.Load(stream);
            Assert.Equal(model.Kind, loaded.Kind);
            var before = Scores(model.Transform(input));
            var after = Scores(loaded.Transform(input));
            Assert.Equal(before.Length, after.Length);
            for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
            Assert.Equal(model.History.Epochs.Count, loaded.History.Epochs.Count);
        }

        // The saved architecture is the sequence family's, with the vocabulary taken from the key type.
        var arch = Assert.IsType<SequenceArchitecture>(sentiment.Description.Architecture);
        var layout = Assert.IsType<TokenSequenceLayout>(arch.Input);
        Assert.Equal((int)((KeyDataViewType)((VectorDataViewType)x.Schema["Tokens"].Type).ItemType).Count, layout.VocabularySize);
    }

    private static float[][] Scores(IDataView scored) => scored.Schema["Score"].Type is VectorDataViewType
        ? scored.GetColumn<float[]>("Score").ToArray()
        : scored.GetColumn<float>("Score").Select(s => new[] { s }).ToArray();

    [Fact]
    public void PredictionEngine_scores_like_batched_Transform_for_sentiment_and_tagging()
    {
        var ml = new MLContext(seed: 1);
        var rows = SequenceData.Sentences(150, seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var featurizer = SequenceData.TaggingFeaturizer(ml, data);
        var x = featurizer.Transform(data);
        var sentiment = featurizer.Append(ml.BinaryClassification.Trainers.Sequence(Small()).Fit(x));
        var taggerOptions = Small();
        taggerOptions.LabelColumnName = "TagKeys";
        var tagger = featurizer.Append(ml.MulticlassClassification.Trainers.SequenceTagging(taggerOptions).Fit(x));

        var batched = sentiment.Transform(data).GetColumn<float>("Score").ToArray();
        var engine = ml.Model.CreatePredictionEngine<SentenceRow, SentencePrediction>(sentiment);
        for (int i = 0; i < 30; i++) Assert.Equal(batched[i], engine.Predict(rows[i]).Score, 5);

        var tags = tagger.Transform(data).GetColumn<uint[]>("PredictedLabel").ToArray();
        var tagEngine = ml.Model.CreatePredictionEngine<SentenceRow, TagPrediction>(tagger);
        for (int i = 0; i < 30; i++)
        {
            var p = tagEngine.Predict(rows[i]);
            Assert.Equal(tags[i], p.PredictedLabel);
            Assert.Equal(rows[i].Text.Split(' ').Length * 4, p.Score.Length);
        }
    }

    [Fact]
    public void Progress_goes_to_the_MLNet_log_with_validation_metrics_and_the_history_keeps_them()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Source == "MLNetDeep") lines.Add(e.RawMessage); };
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(300, seed: 1));
        var x = SequenceData.TaggingFeaturizer(ml, data).Transform(data);
        var options = Small(epochs: 2);
        options.LabelColumnName = "TagKeys";
        options.ValidationFraction = 0.2;
        var tagger = ml.MulticlassClassification.Trainers.SequenceTagging(options).Fit(x);
        Assert.Contains(lines, l => l.StartsWith("epoch 2/2", StringComparison.Ordinal) && l.Contains("val_accuracy") && l.Contains("val_sequence_accuracy"));
        Assert.Equal(2, tagger.History.Epochs.Count);
        Assert.Equal(60, tagger.History.ValidationRows);
        var acc = tagger.History.Epochs[^1].ValidationMetrics["accuracy"];
        Assert.InRange(acc, 0.3, 1.0);
    }

    [Fact]
    public void Warm_start_continues_from_a_saved_model()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(400, seed: 1));
        var x = SequenceData.Tokenizer(ml, data).Transform(data);
        var first = ml.BinaryClassification.Trainers.Sequence(Small(epochs: 3)).Fit(x);
        using var stream = new MemoryStream();
        first.Save(stream);
        stream.Position = 0;
        using var loaded = DeepTransformer.Load(stream);
        var again = Small(epochs: 1);
        again.WarmStartFrom = loaded;
        var continued = ml.BinaryClassification.Trainers.Sequence(again).Fit(x);
        var fresh = ml.BinaryClassification.Trainers.Sequence(Small(epochs: 1)).Fit(x);
        Assert.True(continued.History.Epochs[0].TrainLoss < fresh.History.Epochs[0].TrainLoss,
            $"warm start loss {continued.History.Epochs[0].TrainLoss:F4} vs fresh {fresh.History.Epochs[0].TrainLoss:F4}");

        var other = Small(epochs: 1);
        other.HiddenSize = 12;
        other.WarmStartFrom = loaded;
        var e = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Sequence(other).Fit(x));
        Assert.Contains("WarmStartFrom", e.Message);
    }

    /// <summary>Records the global gradient norm the optimizer stepped with (gradients stay on the parameters after the step).</summary>
    private sealed class GradientNormProbe : TrainingCallback
    {
        public List<double> Norms { get; } = new();
        public override void OnBatchEnd(TrainingContext context, int batch, double loss)
        {
            double sq = 0;
            foreach (var p in context.Network.parameters())
                if (p.grad is Tensor g) sq += g.pow(2).sum().item<float>();
            Norms.Add(Math.Sqrt(sq));
        }
    }

    [Fact]
    public void Gradient_clipping_by_global_norm_is_on_by_default_and_can_be_turned_off()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Adding(200, 20, seed: 1));
        Assert.Equal(1.0, new SequenceOptions().Regularization.GradientClipNorm);

        var clipped = new GradientNormProbe();
        var options = new SequenceOptions { Input = new NumericSequence(2), HiddenSize = 8, Epochs = 1, Regularization = new() { GradientClipNorm = 1e-3 } };
        options.Callbacks.Add(clipped);
        ml.Regression.Trainers.Sequence(options).Fit(data);
        Assert.All(clipped.Norms, n => Assert.True(n <= 1e-3 * 1.001, $"norm {n}"));

        var free = new GradientNormProbe();
        var off = new SequenceOptions { Input = new NumericSequence(2), HiddenSize = 8, Epochs = 1, Regularization = new() { GradientClipNorm = null } };
        off.Callbacks.Add(free);
        ml.Regression.Trainers.Sequence(off).Fit(data);
        Assert.Contains(free.Norms, n => n > 1e-2);
    }

    [Fact]
    public void Recurrent_weights_start_orthogonal_per_gate_and_the_LSTM_forget_gate_bias_at_one()
    {
        var arch = new SequenceArchitecture
        {
            Input = new NumericSequenceLayout { FeaturesPerStep = 3 },
            Cell = RecurrentCell.Lstm, HiddenSize = 6, Layers = 2, Bidirectional = true,
            Head = new DenseHead { HiddenSizes = new() },
        };
        arch.Validate();
        using var net = arch.Build(2, null);
        var named = net.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var hh = named.Where(p => p.Key.Contains("weight_hh")).ToList();
        Assert.Equal(4, hh.Count); // 2 layers x 2 directions
        foreach (var (_, w) in hh)
            for (int g = 0; g < 4; g++)
            {
                var block = w.detach().narrow(0, g * 6, 6);
                var gram = block.matmul(block.t());
                Assert.True(gram.allclose(eye(6), atol: 1e-5), "each gate's recurrent block is orthogonal");
            }
        var bias = named.First(p => p.Key.Contains("bias_ih")).Value.detach();
        Assert.Equal(6.0, bias.narrow(0, 6, 6).sum().item<float>(), 5);    // forget gate (i, f, g, o)
        Assert.Equal(0.0, bias.narrow(0, 0, 6).abs().sum().item<float>(), 5);
    }

    [Fact]
    public void The_estimator_reports_its_output_columns_before_fitting()
    {
        var ml = new MLContext(seed: 1);
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn("KeyValues", SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        var input = new SchemaShape(new[]
        {
            MLNetInternals.MLNetBridge.MakeColumn("Tokens", SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues),
            MLNetInternals.MLNetBridge.MakeColumn("TagKeys", SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues),
        });
        var options = Small();
        options.LabelColumnName = "TagKeys";
        var shape = ml.MulticlassClassification.Trainers.SequenceTagging(options).GetOutputSchema(input);
        var predicted = shape.Single(c => c.Name == "PredictedLabel");
        Assert.Equal(SchemaShape.Column.VectorKind.VariableVector, predicted.Kind);
        Assert.True(predicted.IsKey);
        var score = shape.Single(c => c.Name == "Score");
        Assert.Equal(SchemaShape.Column.VectorKind.VariableVector, score.Kind);
    }
}
