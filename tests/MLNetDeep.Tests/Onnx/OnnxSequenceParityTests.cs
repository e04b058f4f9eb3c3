using Xunit;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>A Fashion-MNIST image cut to its first rows (a variable-length numeric sequence of 28-pixel steps).</summary>
public sealed class VariableImageRow
{
    [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
    public string Label { get; set; } = "";
}

/// <summary>A Fashion-MNIST image as tokens: each pixel row's brightness bucketed into ids 1..<see cref="OnnxSequenceParityTests.Vocabulary"/>.</summary>
public sealed class TokenImageRow
{
    [VectorType] public uint[] Features { get; set; } = Array.Empty<uint>();
    public string Label { get; set; } = "";
}

/// <summary>An image as a numeric sequence of its first pixel rows, with a per-step tag: is this row brighter than the previous one?</summary>
public sealed class TaggedImageRow
{
    [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
    [VectorType] public string[] Label { get; set; } = Array.Empty<string>();
}

/// <summary><see cref="TaggedImageRow"/> with token ids.</summary>
public sealed class TaggedTokenRow
{
    [VectorType] public uint[] Features { get; set; } = Array.Empty<uint>();
    [VectorType] public string[] Label { get; set; } = Array.Empty<string>();
}

/// <summary>
/// Exported sequence models (LSTM / GRU / RNN) scored by ONNX Runtime match the TorchSharp transformer within 1e-4 on
/// real Fashion-MNIST rows read row by row (28 steps × 28 pixels), for every cell, stacking, direction, summary and
/// head, batches of 1, 7 and 64 rows, and (with the Lengths input) rows of different lengths in one batch.
/// </summary>
[Trait("Category", "Unit")]
public sealed class OnnxSequenceParityTests
{
    /// <summary>Token ids of <see cref="TokenImageRow"/>: 1..Vocabulary.</summary>
    public const int Vocabulary = 16;
    private const int SequenceTrainRows = 256;

    private readonly ITestOutputHelper _out;
    public OnnxSequenceParityTests(ITestOutputHelper output) => _out = output;

    internal static SequenceOptions Options(RecurrentCell cell, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh, int layers = 1,
        bool bidirectional = false, SequenceSummary summary = SequenceSummary.LastState, DenseHead? head = null) => new()
    {
        Input = new NumericSequence(28),
        Cell = cell,
        Nonlinearity = nonlinearity,
        HiddenSize = 16,
        Layers = layers,
        Bidirectional = bidirectional,
        LayerDropout = layers > 1 ? 0.2 : 0,
        Summary = summary,
        Head = head ?? new DenseHead { HiddenSizes = new(), Dropout = 0, InputDropout = 0 },
    };

    internal static (ITransformer Pipeline, DeepTransformer Model) Fit(MLContext ml, PredictionKind kind, SequenceOptions options, IDataView train)
    {
        options.Epochs = 1;
        options.BatchSize = 32;
        options.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        IEstimator<ITransformer> trainer = kind switch
        {
            PredictionKind.MulticlassClassification => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Sequence(options)),
            PredictionKind.BinaryClassification => ml.BinaryClassification.Trainers.Sequence(options),
            _ => ml.Regression.Trainers.Sequence(options),
        };
        var pipeline = trainer.Fit(train).ScoredByLibTorch(); // expected values from the network itself, not ONNX Runtime
        return (pipeline, pipeline.GetDeepTransformer());
    }

    private static byte[] Export(DeepTransformer model, OnnxExportOptions? options = null)
    {
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, options);
        return stream.ToArray();
    }

    /// <summary>Fixed-length rows (28 steps): the graph has the Features input only.</summary>
    private double CheckFixed(PredictionKind kind, SequenceOptions options, int opset = 17)
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Fit(ml, kind, options, TrainView(ml, kind, SequenceTrainRows));
        var bytes = Export(model, new OnnxExportOptions { Opset = opset });
        var expected = RunTransformer(pipeline, TestView(ml, kind), kind, model.ClassNames);
        double worst = 0;
        foreach (var batch in new[] { 1, 7, TestRows })
        {
            double diff = Compare(expected, RunSequenceOnnx(bytes, TestFeatures(), batch, lengths: false));
            _out.WriteLine($"{kind} opset {opset} batch {batch}: max abs diff {diff:G3}");
            Assert.True(diff <= Tolerance, $"max abs diff {diff} > {Tolerance} (batch {batch})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }

    /// <summary>Row i keeps its first 4 + (7·i mod 25) pixel rows: lengths 4..28 mixed in every batch.</summary>
    internal static int StepsOf(int i) => 4 + (7 * i) % 25;

    internal static List<VariableImageRow> VariableRows(List<MLNetDeep.Datasets.FashionMnistImage> images) =>
        images.Select((img, i) => new VariableImageRow { Features = img.Features.Take(StepsOf(i) * 28).ToArray(), Label = img.Label }).ToList();

    internal static uint[] Tokens(float[] pixels, int steps) => Enumerable.Range(0, steps)
        .Select(r => (uint)Math.Clamp(1 + (int)(pixels.Skip(r * 28).Take(28).Average() * 2 * Vocabulary), 1, Vocabulary)).ToArray();

    internal static List<TokenImageRow> TokenRows(List<MLNetDeep.Datasets.FashionMnistImage> images, bool variable) =>
        images.Select((img, i) => new TokenImageRow { Features = Tokens(img.Features, variable ? StepsOf(i) : 28), Label = img.Label }).ToList();

    /// <summary>Rows of different lengths: the graph gets the Lengths input; every batch is padded to its longest row.</summary>
    private double CheckVariable(SequenceOptions options, int opset = 17)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(VariableRows(TestData.TrainImages(SequenceTrainRows)));
        var test = VariableRows(TestData.TestImages(TestRows));
        var (pipeline, model) = Fit(ml, PredictionKind.MulticlassClassification, options, train);
        var bytes = Export(model, new OnnxExportOptions { Opset = opset, SequenceLengthsInput = true });
        var expected = RunTransformer(pipeline, ml.Data.LoadFromEnumerable(test), PredictionKind.MulticlassClassification, model.ClassNames);
        return CheckBatches(bytes, expected, test.Select(r => r.Features).ToArray(), 28, lengths: true, $"variable opset {opset}");
    }

    private double CheckBatches(byte[] bytes, Dictionary<string, List<object>> expected, float[][] rows, int valuesPerStep, bool lengths, string what)
    {
        double worst = 0;
        foreach (var batch in new[] { 1, 7, TestRows })
        {
            double diff = Compare(expected, RunSequenceOnnx(bytes, rows, batch, lengths, valuesPerStep));
            _out.WriteLine($"{what} batch {batch}: max abs diff {diff:G3}");
            Assert.True(diff <= Tolerance, $"{what}: max abs diff {diff} > {Tolerance} (batch {batch})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }

    /// <summary>
    /// Runs the graph on <paramref name="rows"/> in batches; each batch is padded (with 7s, which must not matter) to its
    /// longest row, and with <paramref name="lengths"/> the real step counts go in the Lengths input.
    /// </summary>
    private static Dictionary<string, List<object>> RunSequenceOnnx(byte[] model, float[][] rows, int batchSize, bool lengths, int valuesPerStep = 28)
    {
        using var session = new InferenceSession(model);
        var result = new Dictionary<string, List<object>>();
        for (int start = 0; start < rows.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, rows.Length - start);
            int width = Enumerable.Range(start, n).Max(i => rows[i].Length);
            if (!lengths) Assert.All(Enumerable.Range(start, n), i => Assert.Equal(width, rows[i].Length));
            var data = new float[n * width];
            Array.Fill(data, 7f);
            var steps = new int[n];
            for (int i = 0; i < n; i++)
            {
                rows[start + i].CopyTo(data, i * width);
                steps[i] = rows[start + i].Length / valuesPerStep;
            }
            var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(data, new[] { n, width })) };
            if (lengths) inputs.Add(NamedOnnxValue.CreateFromTensor(OnnxNames.Lengths, new DenseTensor<int>(steps, new[] { n })));
            using var outputs = session.Run(inputs);
            foreach (var o in outputs)
            {
                if (!result.TryGetValue(o.Name, out var list)) result[o.Name] = list = new List<object>();
                switch (o.Value)
                {
                    case Tensor<float> f: Assert.Equal(n, f.Dimensions[0]); list.AddRange(f.ToArray().Cast<object>()); break;
                    case Tensor<bool> b: Assert.Equal(n, b.Dimensions[0]); list.AddRange(b.ToArray().Cast<object>()); break;
                    case Tensor<string> s: Assert.Equal(n, s.Dimensions[0]); list.AddRange(s.ToArray()); break;
                    default: throw new InvalidOperationException($"Unexpected output type {o.Value.GetType()}");
                }
            }
        }
        return result;
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, RnnNonlinearity.Tanh)]
    [InlineData(RecurrentCell.Gru, RnnNonlinearity.Tanh)]
    [InlineData(RecurrentCell.Rnn, RnnNonlinearity.Tanh)]
    [InlineData(RecurrentCell.Rnn, RnnNonlinearity.Relu)]
    public void EveryCell_FixedLength_LastState(RecurrentCell cell, RnnNonlinearity nonlinearity)
    {
        CheckFixed(PredictionKind.MulticlassClassification, Options(cell, nonlinearity));
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, SequenceSummary.LastState, 17)]
    [InlineData(RecurrentCell.Gru, SequenceSummary.MeanOverTime, 17)]
    [InlineData(RecurrentCell.Rnn, SequenceSummary.MaxOverTime, 17)]
    [InlineData(RecurrentCell.Lstm, SequenceSummary.MeanOverTime, 18)]
    [InlineData(RecurrentCell.Gru, SequenceSummary.MaxOverTime, 18)]
    public void StackedBidirectional_EverySummary(RecurrentCell cell, SequenceSummary summary, int opset)
    {
        CheckFixed(PredictionKind.MulticlassClassification, Options(cell, layers: 2, bidirectional: true, summary: summary), opset);
    }

    [Fact]
    public void BinaryHead_WithHiddenDenseLayer()
    {
        CheckFixed(PredictionKind.BinaryClassification, Options(RecurrentCell.Lstm, summary: SequenceSummary.MeanOverTime,
            head: new DenseHead { HiddenSizes = new() { 16 } }));
    }

    [Fact]
    public void RegressionHead_WithBatchNorm_RescalesToLabelUnits()
    {
        CheckFixed(PredictionKind.Regression, Options(RecurrentCell.Gru, bidirectional: true,
            head: new DenseHead { HiddenSizes = new() { 16 }, BatchNorm = true }));
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, SequenceSummary.LastState, 17)]
    [InlineData(RecurrentCell.Gru, SequenceSummary.MeanOverTime, 17)]
    [InlineData(RecurrentCell.Rnn, SequenceSummary.MaxOverTime, 17)]
    [InlineData(RecurrentCell.Lstm, SequenceSummary.MaxOverTime, 18)]
    public void VariableLength_LengthsInput_StackedBidirectional(RecurrentCell cell, SequenceSummary summary, int opset)
    {
        CheckVariable(Options(cell, layers: 2, bidirectional: true, summary: summary), opset);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TokenSequences_ThroughTheEmbedding(bool variable)
    {
        var ml = new MLContext(seed: 1);
        var options = Options(RecurrentCell.Gru, bidirectional: variable, summary: variable ? SequenceSummary.LastState : SequenceSummary.MeanOverTime);
        options.Input = new TokenSequence(8) { VocabularySize = Vocabulary };
        var train = ml.Data.LoadFromEnumerable(TokenRows(TestData.TrainImages(SequenceTrainRows), variable));
        var test = TokenRows(TestData.TestImages(TestRows), variable);
        // a few unknown tokens (id 0): the embedding's zero row
        test[3].Features[1] = 0;
        test[10].Features[0] = 0;
        var (pipeline, model) = Fit(ml, PredictionKind.MulticlassClassification, options, train);
        var bytes = Export(model, new OnnxExportOptions { SequenceLengthsInput = variable });
        var expected = RunTransformer(pipeline, ml.Data.LoadFromEnumerable(test), PredictionKind.MulticlassClassification, model.ClassNames);
        CheckBatches(bytes, expected, test.Select(r => r.Features.Select(v => (float)v).ToArray()).ToArray(), 1, variable, $"tokens variable={variable}");
    }

    [Fact]
    public void Truncation_KeepEndSlices_KeepStartWithLengths_KeepEndWithLengthsFailsClearly()
    {
        var ml = new MLContext(seed: 1);
        var options = Options(RecurrentCell.Lstm);
        options.MaxLength = 20;
        var (pipeline, model) = Fit(ml, PredictionKind.MulticlassClassification, options, TrainView(ml, PredictionKind.MulticlassClassification, 64));
        var e = Assert.Throws<OnnxExportException>(() => Export(model, new OnnxExportOptions { SequenceLengthsInput = true }));
        Assert.Contains("Truncation=KeepEnd with MaxLength=20", e.Message);
        // without per-row lengths the KeepEnd truncation is a Slice and matches the transformer
        var bytes = Export(model);
        var expected = RunTransformer(pipeline, TestView(ml, PredictionKind.MulticlassClassification), PredictionKind.MulticlassClassification, model.ClassNames);
        CheckBatches(bytes, expected, TestFeatures(), 28, lengths: false, "KeepEnd MaxLength=20");

        // KeepStart with per-row lengths: the graph slices the first 20 steps and clips the lengths.
        var keepStart = Options(RecurrentCell.Gru, summary: SequenceSummary.MeanOverTime);
        keepStart.MaxLength = 20;
        keepStart.Truncation = MLNetDeep.Data.SequenceTruncation.KeepStart;
        var test = VariableRows(TestData.TestImages(TestRows));
        var (startPipeline, startModel) = Fit(ml, PredictionKind.MulticlassClassification, keepStart,
            ml.Data.LoadFromEnumerable(VariableRows(TestData.TrainImages(128))));
        var startExpected = RunTransformer(startPipeline, ml.Data.LoadFromEnumerable(test), PredictionKind.MulticlassClassification, startModel.ClassNames);
        CheckBatches(Export(startModel, new OnnxExportOptions { SequenceLengthsInput = true }), startExpected,
            test.Select(r => r.Features).ToArray(), 28, lengths: true, "KeepStart MaxLength=20 with Lengths");
    }

    internal static List<TaggedImageRow> TaggedRows(List<MLNetDeep.Datasets.FashionMnistImage> images, bool tokens) => images.Select((img, i) =>
    {
        int steps = StepsOf(i);
        var means = Enumerable.Range(0, steps).Select(r => img.Features.Skip(r * 28).Take(28).Average()).ToArray();
        var tags = means.Select((m, t) => t == 0 ? "first" : m > means[t - 1] + 0.02 ? "up" : m < means[t - 1] - 0.02 ? "down" : "same").ToArray();
        var features = tokens ? Tokens(img.Features, steps).Select(v => (float)v).ToArray() : img.Features.Take(steps * 28).ToArray();
        return new TaggedImageRow { Features = features, Label = tags };
    }).ToList();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tagging_PerStepOutputs_VariableLength(bool tokens)
    {
        var ml = new MLContext(seed: 1);
        var options = Options(RecurrentCell.Lstm, bidirectional: true, head: new DenseHead { HiddenSizes = new() { 16 } });
        if (tokens) options.Input = new TokenSequence(8) { VocabularySize = Vocabulary };
        var trainRows = TaggedRows(TestData.TrainImages(SequenceTrainRows), tokens);
        var testRows = TaggedRows(TestData.TestImages(TestRows), tokens);
        IEstimator<ITransformer> estimator = ml.Transforms.Conversion.MapValueToKey("Label");
        IDataView Load(List<TaggedImageRow> rows) => tokens
            ? ml.Data.LoadFromEnumerable(rows.Select(r => new TaggedTokenRow { Features = r.Features.Select(v => (uint)v).ToArray(), Label = r.Label }))
            : ml.Data.LoadFromEnumerable(rows);
        options.Epochs = 1;
        options.BatchSize = 32;
        options.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        var pipeline = estimator.Append(ml.MulticlassClassification.Trainers.SequenceTagging(options)).Fit(Load(trainRows)).ScoredByLibTorch();
        var model = (DeepTransformer)((IEnumerable<ITransformer>)pipeline).Last();
        var bytes = Export(model, new OnnxExportOptions { SequenceLengthsInput = true });
        var scored = pipeline.Transform(Load(testRows));
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<uint[]>("PredictedLabel").ToArray();
        int k = model.ClassNames.Count, valuesPerStep = tokens ? 1 : 28;
        var rows = testRows.Select(r => r.Features).ToArray();
        double worst = 0;
        foreach (var batch in new[] { 1, 7, TestRows })
        {
            using var session = new InferenceSession(bytes);
            double diff = 0;
            for (int start = 0; start < rows.Length; start += batch)
            {
                int n = Math.Min(batch, rows.Length - start);
                int width = Enumerable.Range(start, n).Max(i => rows[i].Length), steps = width / valuesPerStep;
                var data = new float[n * width];
                var lengths = new int[n];
                for (int i = 0; i < n; i++) { rows[start + i].CopyTo(data, i * width); lengths[i] = rows[start + i].Length / valuesPerStep; }
                using var outputs = session.Run(new[]
                {
                    NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(data, new[] { n, width })),
                    NamedOnnxValue.CreateFromTensor(OnnxNames.Lengths, new DenseTensor<int>(lengths, new[] { n })),
                });
                var score = outputs.Single(o => o.Name == "Score").AsTensor<float>();
                var label = outputs.Single(o => o.Name == "PredictedLabel").AsTensor<string>();
                Assert.Equal(new[] { n, steps, k }, score.Dimensions.ToArray());
                for (int i = 0; i < n; i++)
                    for (int t = 0; t < lengths[i]; t++)
                    {
                        for (int c = 0; c < k; c++) diff = Math.Max(diff, Math.Abs(scores[start + i][t * k + c] - score[i, t, c]));
                        Assert.Equal(model.ClassNames[(int)predicted[start + i][t] - 1], label[i, t]);
                    }
            }
            _out.WriteLine($"tagging tokens={tokens} batch {batch}: max abs diff {diff:G3}");
            Assert.True(diff <= Tolerance, $"max abs diff {diff} > {Tolerance} (batch {batch})");
            worst = Math.Max(worst, diff);
        }
        // The single-row graph for ML.NET's OnnxTransformer can't declare per-step outputs.
        var e = Assert.Throws<OnnxExportException>(() => MLNetDeep.Onnx.OnnxExporter.ToBytes(model, null, OnnxGraphForm.SingleRow));
        Assert.Contains("sequence-tagging head", e.Message);
    }
}
