using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>
/// The seq2seq estimator in an ML.NET pipeline on real CMUdict words: learning, text back through MapKeyToValue,
/// PredictionEngine = batched Transform, save / load / warm start, decoding options, ONNX export, Model.Save's refusal.
/// </summary>
public sealed class Seq2SeqEstimatorTests
{
    private readonly ITestOutputHelper _out;
    public Seq2SeqEstimatorTests(ITestOutputHelper output) => _out = output;

    private static MLContext Ml => G2PEstimator.Ml;

    private static List<G2PEntry> TestWords(int n) => CmuDict.Read(CmuDictSplit.Test, take: n, variants: CmuDictVariants.First);

    private static IDataView Featurized(List<G2PEntry> words) => G2PEstimator.Rows(words);

    private static List<int[]> Predicted(IDataView scored) =>
        scored.GetColumn<uint[]>("PredictedLabel").Select(p => p.Select(v => (int)v).ToArray()).ToList();

    [Fact]
    public void Pipeline_LearnsG2P_WellBeyondTheLetterByLetterBaseline_AndMapKeyToValueGivesThePhonemes()
    {
        var model = G2PEstimator.Trained.Value;
        var test = TestWords(500);
        var scored = model.Transform(Featurized(test));
        var predicted = Predicted(scored);
        var references = G2PData.References(test);
        var metrics = Seq2SeqMetrics.Compute(predicted.Select(p => (IReadOnlyList<int>)p).ToList(), references);
        var baseline = Seq2SeqMetrics.Compute(test.Select(e => (IReadOnlyList<int>)G2PData.LetterByLetter(e.Word)).ToList(), references);
        _out.WriteLine($"estimator: PER {metrics.TokenErrorRate:F4}, word accuracy {metrics.ExactMatch:F4}, BLEU {metrics.Bleu:F4}; " +
                       $"baseline: PER {baseline.TokenErrorRate:F4}, word accuracy {baseline.ExactMatch:F4}");
        Assert.True(metrics.TokenErrorRate < 0.5 * baseline.TokenErrorRate, $"PER {metrics.TokenErrorRate:F4} vs baseline {baseline.TokenErrorRate:F4}");
        Assert.True(metrics.ExactMatch > 0.25 && metrics.ExactMatch > 3 * baseline.ExactMatch, $"word accuracy {metrics.ExactMatch:F4} vs baseline {baseline.ExactMatch:F4}");

        // The evaluator over the scored view judges against the row's label (the first pronunciation).
        var single = Ml.MulticlassClassification.EvaluateSeq2Seq(scored);
        var firstOnly = Seq2SeqMetrics.Compute(predicted.Select(p => (IReadOnlyList<int>)p).ToList(),
            test.Select(e => (IReadOnlyList<int>)CmuDict.PhonemeIds(e.Phonemes)).ToList());
        Assert.Equal(firstOnly.TokenErrorRate, single.TokenErrorRate, 12);
        Assert.Equal(firstOnly.Bleu, single.Bleu, 12);

        // MapKeyToValue turns the predicted key vector into phoneme strings.
        var text = Ml.Transforms.Conversion.MapKeyToValue("PredictedPhonemes", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<string[]>("PredictedPhonemes").ToList();
        for (int i = 0; i < test.Count; i++) Assert.Equal(CmuDict.PhonemeString(predicted[i]), string.Join(' ', text[i]));

        // Per-epoch validation by decoding, with the three sequence metrics.
        var epochs = model.History.Epochs;
        Assert.All(epochs, e => Assert.Equal(new[] { "bleu", "exact_match", "token_error_rate" }, e.ValidationMetrics.Keys.OrderBy(k => k)));
        Assert.True(epochs[^1].ValidationMetrics["token_error_rate"] < epochs[0].ValidationMetrics["token_error_rate"]);
        Assert.True(epochs[^1].ValidationLoss < epochs[0].ValidationLoss);
    }

    private sealed class WordRow
    {
        public string Word { get; set; } = "";
        public string Phonemes { get; set; } = "";
    }

    private sealed class Pronunciation
    {
        public uint[] PredictedLabel { get; set; } = Array.Empty<uint>();
        public float Score { get; set; }
    }

    [Fact]
    public void PredictionEngine_RowByRow_EqualsBatchedTransform_SoPaddingChangesNothing()
    {
        var model = G2PEstimator.Trained.Value;
        var words = TestWords(64);
        Assert.True(words.Max(w => w.Word.Length) > words.Min(w => w.Word.Length) + 4, "the batch must mix lengths for padding to matter");
        var scored = model.Transform(Featurized(words));
        var batched = Predicted(scored);
        var scores = scored.GetColumn<float>("Score").ToList();

        var pipeline = new TransformerChain<ITransformer>(G2PEstimator.Featurizer.Value, model);
        var engine = Ml.Model.CreatePredictionEngine<WordRow, Pronunciation>(pipeline);
        for (int i = 0; i < words.Count; i++)
        {
            var p = engine.Predict(new WordRow { Word = words[i].Word });
            Assert.Equal(batched[i], p.PredictedLabel.Select(v => (int)v).ToArray());
            Assert.True(Math.Abs(scores[i] - p.Score) <= 1e-4, $"{words[i].Word}: log-probability {p.Score} alone vs {scores[i]} in the batch");
            Assert.True(p.Score < 0);
        }
    }

    [Fact]
    public void SaveAndLoad_GiveIdenticalOutputs_AndAWarmStartContinuesFromTheSavedWeights()
    {
        var model = G2PEstimator.Trained.Value;
        var rows = Featurized(TestWords(100));
        var path = Path.Combine(Path.GetTempPath(), $"s2s-{Guid.NewGuid():N}.mlnd");
        try
        {
            model.Save(path);
            using var loaded = DeepTransformer.Load(path);
            Assert.Equal(PredictionKind.SequenceToSequence, loaded.Kind);
            var before = model.Transform(rows);
            var after = loaded.Transform(rows);
            Assert.Equal(Predicted(before), Predicted(after));
            Assert.Equal(before.GetColumn<float>("Score"), after.GetColumn<float>("Score"));

            var train = G2PEstimator.Rows(CmuDictSplit.Train, 600);
            var warm = G2PEstimator.Options(epochs: 1);
            warm.WarmStartFrom = loaded;
            using var continued = Ml.MulticlassClassification.Trainers.Seq2Seq(warm).Fit(train);
            using var fresh = Ml.MulticlassClassification.Trainers.Seq2Seq(G2PEstimator.Options(epochs: 1)).Fit(train);
            double warmLoss = continued.History.Epochs[0].TrainLoss, freshLoss = fresh.History.Epochs[0].TrainLoss;
            double trainedLoss = model.History.Epochs[^1].TrainLoss;
            _out.WriteLine($"first-epoch loss: warm start {warmLoss:F4}, fresh {freshLoss:F4}; the saved model's last epoch {trainedLoss:F4}");
            Assert.True(warmLoss < 0.6 * freshLoss, $"warm start {warmLoss:F4} vs fresh {freshLoss:F4}: the saved weights were not used");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Decoding_BeamOfWidthOneIsGreedy_WiderBeamsScoreHigher_AndMaxOutputLengthCaps()
    {
        var model = G2PEstimator.Trained.Value;
        var rows = Featurized(TestWords(300));
        var greedy = model.Transform(rows);
        using var beam1 = model.WithDecoding(new Seq2SeqDecodeOptions { BeamWidth = 1, LengthNormalization = LengthNormalization.Gnmt });
        using var beam5 = model.WithDecoding(new Seq2SeqDecodeOptions { BeamWidth = 5 });
        var one = beam1.Transform(rows);
        Assert.Equal(Predicted(greedy), Predicted(one));
        Assert.Equal(greedy.GetColumn<float>("Score"), one.GetColumn<float>("Score"));

        double g = greedy.GetColumn<float>("Score").Average(), b = beam5.Transform(rows).GetColumn<float>("Score").Average();
        _out.WriteLine($"mean log-probability: greedy {g:F4}, beam 5 {b:F4}");
        Assert.True(b > g + 1e-3, $"beam 5 mean log-probability {b:F4} vs greedy {g:F4}");

        using var capped = model.WithDecoding(new Seq2SeqDecodeOptions { MaxOutputLength = 2 }, logProbabilityColumn: false);
        var short2 = capped.Transform(rows);
        Assert.All(Predicted(short2), p => Assert.InRange(p.Length, 0, 2));
        Assert.Null(short2.Schema.GetColumnOrNull("Score"));
        Assert.Equal(1, model.Description.Head.Seq2Seq!.Decoding.BeamWidth); // the original is unchanged
        Assert.Equal(30, model.Description.Head.Seq2Seq!.Decoding.MaxOutputLength);
    }

    [Fact]
    public void OnnxExport_OfEncoderAndDecoderStep_DrivenGreedily_MatchesTransform()
    {
        var model = G2PEstimator.Trained.Value;
        var words = TestWords(48);
        var scored = model.Transform(Featurized(words));
        var expected = Predicted(scored);
        var scores = scored.GetColumn<float>("Score").ToList();
        var dir = Path.Combine(Path.GetTempPath(), $"s2s-onnx-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string encoder = Path.Combine(dir, "encoder.onnx"), step = Path.Combine(dir, "step.onnx");
            model.ExportSeq2SeqToOnnx(encoder, step);
            var models = new Seq2SeqOnnxModels { Encoder = File.ReadAllBytes(encoder), DecoderStep = File.ReadAllBytes(step) };
            var onnx = Onnx.OnnxSeq2SeqParityTests.OnnxGreedy(models, model.Seq2SeqNetworkOf().Architecture, words.Select(w => CmuDict.LetterIds(w.Word)).ToList());
            for (int i = 0; i < words.Count; i++)
            {
                Assert.Equal(expected[i], onnx[i].Tokens);
                Assert.True(Math.Abs(scores[i] - onnx[i].LogProbability) <= 1e-4, $"{words[i].Word}: {scores[i]} vs ONNX {onnx[i].LogProbability}");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SingleGraphOnnx_AndModelSave_AreRefused_NamingTheAlternatives()
    {
        var model = G2PEstimator.Trained.Value;
        var export = Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(new MemoryStream()));
        Assert.Contains("decoding loop", export.Message);
        Assert.Contains("ExportSeq2SeqToOnnx", export.Message);
        Assert.Contains("DeepTransformer.Save", export.Message);

        var rows = Featurized(TestWords(4));
        var save = Assert.ThrowsAny<Exception>(() => Ml.Model.Save(model, rows.Schema, new MemoryStream()));
        var message = save is NotSupportedException ? save.Message : save.InnerException?.Message ?? save.Message;
        _out.WriteLine($"{save.GetType().Name}: {message}");
        Assert.Contains("mlContext.Model.Save", message);
        Assert.Contains("ExportSeq2SeqToOnnx", message);
        Assert.Contains("DeepTransformer.Save", message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheEstimatorsOutputSchema_IsTheTrainedModels(bool logProbability)
    {
        var options = G2PEstimator.Options();
        options.LogProbabilityColumn = logProbability;
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn("KeyValues", SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        var input = new SchemaShape(new[]
        {
            MLNetInternals.MLNetBridge.MakeColumn("Letters", SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues),
            MLNetInternals.MLNetBridge.MakeColumn("Label", SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues),
        });
        var shape = Ml.MulticlassClassification.Trainers.Seq2Seq(options).GetOutputSchema(input);
        var predicted = shape.Single(c => c.Name == "PredictedLabel");
        Assert.Equal(SchemaShape.Column.VectorKind.VariableVector, predicted.Kind);
        Assert.True(predicted.IsKey);
        Assert.Equal(logProbability, shape.Any(c => c.Name == "Score"));

        using var model = G2PEstimator.Trained.Value.WithDecoding(new Seq2SeqDecodeOptions(), logProbabilityColumn: logProbability);
        var schema = model.Transform(Featurized(TestWords(2))).Schema;
        var label = schema["PredictedLabel"];
        Assert.Equal(new VectorDataViewType(new KeyDataViewType(typeof(uint), CmuDict.Phonemes.Count)), label.Type);
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        label.Annotations.GetValue("KeyValues", ref names);
        Assert.Equal(CmuDict.Phonemes, names.DenseValues().Select(v => v.ToString()));
        Assert.Equal(logProbability, schema.GetColumnOrNull("Score") is { Type: NumberDataViewType t } && t == NumberDataViewType.Single);
    }
}
