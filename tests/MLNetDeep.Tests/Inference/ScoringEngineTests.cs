using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Inference;
using MLNetDeep.Models.Custom;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Custom;
using MLNetDeep.Tests.Onnx;
using MLNetDeep.Tests.Seq2Seq;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Inference;

/// <summary>
/// The scoring engine option: Auto picks ONNX Runtime where it can and says why when it can't (once, in the log), an
/// explicit OnnxRuntime fails clearly, the choice is saved with the model, bad rows get the same errors from both engines,
/// and one transformer scores from several threads at once — also while its engine is switched.
/// </summary>
[Trait("Category", "Training")]
public sealed class ScoringEngineTests
{
    private readonly ITestOutputHelper _out;
    public ScoringEngineTests(ITestOutputHelper output) => _out = output;

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private static (ITransformer Pipeline, DeepTransformer Model) TinyCnn(MLContext ml)
    {
        var pipeline = Tiny.Multiclass(ml, Tiny.Options()).Fit(TestData.TrainView(ml, 256));
        return (pipeline, pipeline.GetDeepTransformer());
    }

    private static List<string> Log(MLContext ml)
    {
        var messages = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("MLNetDeep scoring engine", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message);
        };
        return messages;
    }

    [Fact]
    public void Auto_ScoresWithOnnxRuntime_WhenTheModelExports_AndSaysSoOnceInTheLog()
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = TinyCnn(ml);
        var messages = Log(ml);
        model.LogEnvironment = ml;
        Assert.Equal(ScoringEngine.Auto, model.ScoringEngine);
        var test = TestData.TestView(ml, 50);
        var first = pipeline.Transform(test).GetColumn<float[]>("Score").ToList();
        var second = pipeline.Transform(test).GetColumn<float[]>("Score").ToList();
        Assert.Equal(first, second);
        Assert.Equal(ScoringEngine.OnnxRuntime, model.ActiveScoringEngine);
        Assert.Contains($"ONNX Runtime ({TorchSharp.torch.get_num_threads()} intra-op thread", model.ScoringEngineReason);
        _out.WriteLine(string.Join("\n", messages));
        Assert.Single(messages);
        Assert.Contains("MLNetDeep scoring engine: ONNX Runtime", messages[0]);
    }

    [Fact]
    public void Auto_FallsBackToLibTorch_ForAModuleThatDoesNotExport_SayingWhyOnce_AndOnnxRuntimeIsRefusedClearly()
    {
        TestModules.EnsureRegistered();
        var ml = new MLContext(seed: 1);
        var options = new CustomModuleOptions { ModuleName = TestModules.UserCnn, InputShape = new[] { 1, 28, 28 }, Epochs = 1, BatchSize = 64, Seed = 1 };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.CustomModule(options))
            .Fit(TestData.TrainView(ml, 128));
        var model = pipeline.GetDeepTransformer();
        var messages = Log(ml);
        model.LogEnvironment = ml;
        var test = TestData.TestView(ml, 20);
        Assert.Equal(20, pipeline.Transform(test).GetColumn<uint>("PredictedLabel").Count());
        Assert.Equal(20, pipeline.Transform(test).GetColumn<uint>("PredictedLabel").Count());
        Assert.Equal(ScoringEngine.LibTorch, model.ActiveScoringEngine);
        _out.WriteLine(model.ScoringEngineReason);
        Assert.StartsWith("LibTorch (ScoringEngine = Auto; ONNX Runtime is not used because Cannot export", model.ScoringEngineReason);
        Assert.Contains("(SmallCnn)", model.ScoringEngineReason);
        Assert.Single(messages);
        Assert.Contains(model.ScoringEngineReason, messages[0]);

        var e = Assert.Throws<NotSupportedException>(() => model.ScoringEngine = ScoringEngine.OnnxRuntime);
        _out.WriteLine(e.Message);
        Assert.StartsWith("ScoringEngine = OnnxRuntime can't score this model: Cannot export", e.Message);
        Assert.Contains("Set ScoringEngine = Auto (it falls back to LibTorch) or LibTorch.", e.Message);
        Assert.Equal(ScoringEngine.Auto, model.ScoringEngine); // a refused setting changes nothing
        Assert.Equal(ScoringEngine.Auto, model.Description.ScoringEngine);
        Assert.Equal(ScoringEngine.LibTorch, model.ActiveScoringEngine);
    }

    [Fact]
    public void Auto_FallsBackToLibTorch_ForSequenceToSequence_WhichDecodesStepByStep()
    {
        var options = G2PEstimator.Options(hidden: 16, epochs: 1);
        using var model = G2PEstimator.Ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(G2PEstimator.Rows(CmuDictSplit.Train, 200));
        var rows = G2PEstimator.Rows(CmuDictSplit.Test, 10, CmuDictVariants.First);
        Assert.Equal(10, model.Transform(rows).GetColumn<uint[]>("PredictedLabel").Count());
        Assert.Equal(ScoringEngine.LibTorch, model.ActiveScoringEngine);
        _out.WriteLine(model.ScoringEngineReason);
        Assert.Contains("this SequenceToSequence model can't be one ONNX graph", model.ScoringEngineReason);
        var e = Assert.Throws<NotSupportedException>(() => model.ScoringEngine = ScoringEngine.OnnxRuntime);
        Assert.Contains("this SequenceToSequence model can't be one ONNX graph", e.Message);
    }

    [Fact]
    public void TheEngine_IsSavedWithTheModel_AndLoadedModelsScoreTheSame()
    {
        var ml = new MLContext(seed: 1);
        var (_, model) = TinyCnn(ml);
        var test = TestData.TestView(ml, 40);
        var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-engine-{Guid.NewGuid():N}.mlnd");
        try
        {
            foreach (var engine in new[] { ScoringEngine.OnnxRuntime, ScoringEngine.LibTorch, ScoringEngine.Auto })
            {
                model.ScoringEngine = engine;
                Assert.Equal(engine, model.Description.ScoringEngine);
                var expected = model.Transform(test).GetColumn<float[]>("Score").ToList();
                model.Save(path);
                using var loaded = DeepTransformer.Load(path);
                Assert.Equal(engine, loaded.ScoringEngine);
                Assert.Equal(engine == ScoringEngine.LibTorch ? ScoringEngine.LibTorch : ScoringEngine.OnnxRuntime, loaded.ActiveScoringEngine);
                Assert.Equal(expected, loaded.Transform(test).GetColumn<float[]>("Score").ToList()); // same engine, same graph: identical
            }
        }
        finally
        {
            File.Delete(path);
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.ScoringEngine = (ScoringEngine)7);
        Assert.Contains("Received: ScoringEngine=7", e.Message);
    }

    /// <summary>A row with a NaN, a token id outside the vocabulary, an empty sequence: the same exception and message from either engine.</summary>
    [Fact]
    public void BadRows_GetTheSameErrors_FromBothEngines()
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = TinyCnn(ml);
        var images = TestData.TestImages(20);
        images[13] = new FashionMnistImage { Features = (float[])images[13].Features.Clone(), Label = images[13].Label };
        images[13].Features[100] = float.NaN;
        var withNaN = ml.Data.LoadFromEnumerable(images);
        string Error(ScoringEngine engine, Func<object> score)
        {
            model.ScoringEngine = engine;
            var e = Assert.Throws<InvalidDataException>(score);
            Assert.Equal(engine, model.ActiveScoringEngine);
            return e.Message;
        }
        var viaTransform = new[] { ScoringEngine.LibTorch, ScoringEngine.OnnxRuntime }
            .Select(engine => Error(engine, () => pipeline.Transform(withNaN).GetColumn<float[]>("Score").ToList())).ToList();
        _out.WriteLine(viaTransform[0]);
        Assert.Contains("row 13", viaTransform[0]);
        Assert.Equal(viaTransform[0], viaTransform[1]);
        var viaEngine = new[] { ScoringEngine.LibTorch, ScoringEngine.OnnxRuntime }.Select(engine => Error(engine, () =>
            ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(pipeline).Predict(images[13]))).ToList();
        Assert.Equal(viaEngine[0], viaEngine[1]);

        // Token sequences: an id above the vocabulary, and an empty row.
        var tokens = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.TokenRows(TestData.TrainImages(128), variable: true));
        var options = OnnxSequenceParityTests.Options(Models.Sequence.RecurrentCell.Gru);
        options.Input = new Models.Sequence.TokenSequence(8) { VocabularySize = OnnxSequenceParityTests.Vocabulary };
        var (sequencePipeline, sequenceModel) = OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification, options, tokens);
        foreach (var bad in new[] { new uint[] { 3, OnnxSequenceParityTests.Vocabulary + 1, 2 }, Array.Empty<uint>() })
        {
            var rows = OnnxSequenceParityTests.TokenRows(TestData.TestImages(5), variable: true);
            rows[2].Features = bad;
            var view = ml.Data.LoadFromEnumerable(rows);
            var messages = new[] { ScoringEngine.LibTorch, ScoringEngine.OnnxRuntime }.Select(engine =>
            {
                sequenceModel.ScoringEngine = engine;
                return Assert.Throws<InvalidDataException>(() => sequencePipeline.Transform(view).GetColumn<uint>("PredictedLabel").ToList()).Message;
            }).ToList();
            _out.WriteLine(messages[0]);
            Assert.Contains("row 2", messages[0]);
            Assert.Equal(messages[0], messages[1]);
        }
    }

    [Fact]
    public void SeveralThreads_ScoreOneTransformer_AndGetTheSequentialResults_AlsoWhileTheEngineIsSwitched()
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = TinyCnn(ml);
        model.ScoringBatchSize = 16;
        var images = TestData.TestImages(200);
        var test = ml.Data.LoadFromEnumerable(images);
        model.ScoringEngine = ScoringEngine.OnnxRuntime;
        var expected = pipeline.Transform(test).GetColumn<float[]>("Score").ToList();

        double Worst(List<float[]> actual) => expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            double worst = 0;
            int passes = 0;
            var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(pipeline); // one per thread, as ML.NET requires
            while (!stop.IsCancellationRequested || passes < 2)
            {
                worst = Math.Max(worst, Worst(pipeline.Transform(test).GetColumn<float[]>("Score").ToList()));
                for (int i = w; i < images.Count; i += 25)
                    worst = Math.Max(worst, expected[i].Zip(engine.Predict(images[i]).Score).Max(q => Math.Abs(q.First - q.Second)));
                passes++;
            }
            return (worst, passes);
        })).ToArray();
        // Meanwhile the engine is switched back and forth: calls in flight finish on the engine they started with.
        for (int i = 0; i < 6; i++)
        {
            Thread.Sleep(150);
            model.ScoringEngine = i % 2 == 0 ? ScoringEngine.LibTorch : ScoringEngine.OnnxRuntime;
        }
        stop.Cancel();
        Task.WaitAll(workers);
        foreach (var (worst, passes) in workers.Select(t => t.Result))
        {
            _out.WriteLine($"passes {passes}, max abs diff {worst:G3}");
            Assert.True(worst <= 1e-5, $"max abs diff {worst}");
        }
    }

    [Fact]
    public void ADisposedModel_RefusesToScore_WithEitherEngine()
    {
        var ml = new MLContext(seed: 1);
        var (_, model) = TinyCnn(ml);
        var test = TestData.TestView(ml, 10);
        model.ScoringEngine = ScoringEngine.OnnxRuntime;
        Assert.Equal(10, model.Transform(test).GetColumn<float[]>("Score").Count());
        var scored = model.Transform(test);
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => scored.GetColumn<float[]>("Score").ToList());
        Assert.Throws<ObjectDisposedException>(() => model.ScoringEngine = ScoringEngine.LibTorch);
        Assert.Throws<ObjectDisposedException>(() => model.ActiveScoringEngine);
    }
}
