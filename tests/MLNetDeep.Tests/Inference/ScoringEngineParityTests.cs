using Microsoft.ML;
using MLNetDeep.Data;
using MLNetDeep.Inference;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Custom;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Custom;
using MLNetDeep.Tests.Onnx;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Tests.Inference;

/// <summary>
/// The ONNX Runtime scoring engine gives the LibTorch engine's outputs within 1e-5 (and the same predicted labels) on real
/// Fashion-MNIST rows, through the same batched Transform and PredictionEngine, for every family that exports: CNNs
/// (multiclass, binary, regression), numeric sequences of mixed lengths in one batch (with MaxLength cut at either end),
/// token sequences with unknown tokens, sequence tagging, and custom modules. Batches of 7 rows leave a short last batch.
/// </summary>
[Trait("Category", "Training")]
public sealed class ScoringEngineParityTests
{
    private const double Tolerance = 1e-5;
    private const int Rows = 150;
    private readonly ITestOutputHelper _out;

    public ScoringEngineParityTests(ITestOutputHelper output) => _out = output;

    /// <summary>Scores <paramref name="data"/> with both engines and asserts they agree; also row by row through PredictionEngine-style single rows.</summary>
    private double Check(ITransformer pipeline, DeepTransformer model, IDataView data, string what)
    {
        model.ScoringBatchSize = 7;
        var libTorch = EngineOutputs.Of(pipeline, model, data, ScoringEngine.LibTorch);
        var onnxRuntime = EngineOutputs.Of(pipeline, model, data, ScoringEngine.OnnxRuntime);
        double diff = libTorch.CompareTo(onnxRuntime);
        // One row per call, as PredictionEngine scores: the same values as the batches.
        model.ScoringBatchSize = 1;
        double single = libTorch.CompareTo(EngineOutputs.Read(pipeline.Transform(data)));
        _out.WriteLine($"{what}: max abs diff LibTorch vs ONNX Runtime {diff:G3} (batches of 7), {single:G3} (one row per call)");
        Assert.True(diff <= Tolerance, $"{what}: max abs diff {diff} > {Tolerance}");
        Assert.True(single <= Tolerance, $"{what}: one row per call: max abs diff {single} > {Tolerance}");
        return diff;
    }

    [Theory]
    [InlineData(PredictionKind.MulticlassClassification)]
    [InlineData(PredictionKind.BinaryClassification)]
    [InlineData(PredictionKind.Regression)]
    public void Cnn_EveryTask(PredictionKind kind)
    {
        var ml = new MLContext(seed: 1);
        var options = new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Layers = new() { new ConvBlock(8, 3, PoolingKind.Max) { BatchNorm = true }, new ResidualBlock(8) },
            Head = new DenseHead { HiddenSizes = new() { 32 }, BatchNorm = true },
        };
        var (pipeline, model) = OnnxTestSupport.Train(ml, kind, options);
        Check(pipeline, model, OnnxTestSupport.TestView(ml, kind, Rows), $"CNN {kind}");
    }

    [Fact]
    public void CustomModule_Sequential()
    {
        TestModules.EnsureRegistered();
        var ml = new MLContext(seed: 1);
        var options = new CustomModuleOptions
        {
            ModuleName = TestModules.SequentialCnn, InputShape = new[] { 1, 28, 28 }, Epochs = 1, BatchSize = 32, Seed = 1,
            Device = MLNetDeep.Runtime.ComputeDevice.Cpu,
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.CustomModule(options))
            .Fit(TestData.TrainView(ml, 256));
        Check(pipeline, pipeline.GetDeepTransformer(), TestData.TestView(ml, Rows), "custom Sequential CNN");
    }

    /// <summary>Rows of 4..28 steps mixed in every batch; MaxLength 20 cuts the longer ones at the end or the start.</summary>
    [Theory]
    [InlineData(RecurrentCell.Lstm, SequenceSummary.LastState, null, SequenceTruncation.KeepEnd)]
    [InlineData(RecurrentCell.Gru, SequenceSummary.MeanOverTime, 20, SequenceTruncation.KeepEnd)]
    [InlineData(RecurrentCell.Rnn, SequenceSummary.MaxOverTime, 20, SequenceTruncation.KeepStart)]
    public void NumericSequences_OfMixedLengths(RecurrentCell cell, SequenceSummary summary, int? maxLength, SequenceTruncation truncation)
    {
        var ml = new MLContext(seed: 1);
        var options = OnnxSequenceParityTests.Options(cell, layers: 2, bidirectional: true, summary: summary);
        options.MaxLength = maxLength;
        options.Truncation = truncation;
        var train = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.VariableRows(TestData.TrainImages(256)));
        var (pipeline, model) = OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification, options, train);
        var test = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.VariableRows(TestData.TestImages(Rows)));
        Check(pipeline, model, test, $"{cell} {summary} MaxLength={maxLength} {truncation}");
    }

    [Fact]
    public void NumericSequences_OfFixedLength_Regression()
    {
        var ml = new MLContext(seed: 1);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Gru, head: new DenseHead { HiddenSizes = new() { 16 }, BatchNorm = true });
        var (pipeline, model) = OnnxSequenceParityTests.Fit(ml, PredictionKind.Regression, options,
            OnnxTestSupport.TrainView(ml, PredictionKind.Regression, 256));
        Check(pipeline, model, OnnxTestSupport.TestView(ml, PredictionKind.Regression, Rows), "GRU regression, 28 steps");
    }

    [Fact]
    public void TokenSequences_OfMixedLengths_WithUnknownTokens()
    {
        var ml = new MLContext(seed: 1);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Gru, bidirectional: true);
        options.Input = new TokenSequence(8) { VocabularySize = OnnxSequenceParityTests.Vocabulary };
        var train = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.TokenRows(TestData.TrainImages(256), variable: true));
        var rows = OnnxSequenceParityTests.TokenRows(TestData.TestImages(Rows), variable: true);
        rows[3].Features[1] = 0; // unknown tokens: the embedding's zero row
        rows[10].Features[0] = 0;
        var (pipeline, model) = OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification, options, train);
        Check(pipeline, model, ml.Data.LoadFromEnumerable(rows), "GRU over tokens");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tagging_PerStepOutputs_OfMixedLengths(bool tokens)
    {
        var ml = new MLContext(seed: 1);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Lstm, bidirectional: true, head: new DenseHead { HiddenSizes = new() { 16 } });
        if (tokens) options.Input = new TokenSequence(8) { VocabularySize = OnnxSequenceParityTests.Vocabulary };
        options.Epochs = 1;
        options.BatchSize = 32;
        options.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        IDataView Load(List<TaggedImageRow> rows) => tokens
            ? ml.Data.LoadFromEnumerable(rows.Select(r => new TaggedTokenRow { Features = r.Features.Select(v => (uint)v).ToArray(), Label = r.Label }))
            : ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.SequenceTagging(options))
            .Fit(Load(OnnxSequenceParityTests.TaggedRows(TestData.TrainImages(256), tokens)));
        Check(pipeline, pipeline.GetDeepTransformer(), Load(OnnxSequenceParityTests.TaggedRows(TestData.TestImages(Rows), tokens)), $"tagging tokens={tokens}");
    }
}
