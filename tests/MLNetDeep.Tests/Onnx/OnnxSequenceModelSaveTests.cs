using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>
/// Sequence models inside ML.NET model zips (mlContext.Model.Save → Load, scored by ONNX Runtime through
/// OnnxTransformer) and through ML.NET's ApplyOnnxModel on the exported file: the same scores as the TorchSharp
/// transformer on real Fashion-MNIST rows, for fixed-length rows, variable-length rows (every truncation rule), tokens
/// and taggers (per-step outputs).
/// </summary>
[Trait("Category", "Training")]
public sealed class OnnxSequenceModelSaveTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetdeep-seqsave-").FullName;

    public OnnxSequenceModelSaveTests(ITestOutputHelper output) => _out = output;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <summary>mlContext.Model.Save to a zip, then Load in a fresh context.</summary>
    private ITransformer SaveAndLoad(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, schema, path);
        return new MLContext(seed: 2).Model.Load(path, out _);
    }

    /// <summary>Save → Load in a fresh context; both pipelines score <paramref name="test"/> to the same Score and PredictedLabel.</summary>
    private ITransformer SaveLoadAndCompare(MLContext ml, ITransformer model, IDataView train, IDataView test, string what)
    {
        var loaded = SaveAndLoad(ml, model, train.Schema);
        var a = ml.Data.CreateEnumerable<Prediction>(model.Transform(test), reuseRowObject: false).ToList();
        var b = ml.Data.CreateEnumerable<Prediction>(loaded.Transform(test), reuseRowObject: false).ToList();
        double diff = a.Zip(b).Max(p => p.First.Score.Zip(p.Second.Score).Max(q => Math.Abs(q.First - q.Second)));
        _out.WriteLine($"{what}: Model.Save/Load max abs diff {diff:G3} over {a.Count} rows");
        Assert.True(diff <= Tolerance, $"{what}: max abs diff {diff}");
        Assert.Equal(a.Select(p => p.PredictedLabel), b.Select(p => p.PredictedLabel));
        return loaded;
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml, SequenceOptions options, IEstimator<ITransformer>? featurize = null)
    {
        options.Epochs = 1;
        options.BatchSize = 32;
        var trainer = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Sequence(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        return featurize is null ? trainer : featurize.Append(trainer);
    }

    [Fact]
    public void FixedLength_RowSequentialImages_SaveLoad_and_ApplyOnnxModel_score_identically()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.TrainView(ml, 256);
        var test = TestData.TestView(ml, TestRows);
        var model = Pipeline(ml, OnnxSequenceParityTests.Options(RecurrentCell.Lstm, layers: 2, bidirectional: true)).Fit(train);
        SaveLoadAndCompare(ml, model, train, test, "fixed 28x28 LSTM");

        // The exported batch graph through ML.NET's own OnnxTransformer.
        var lstm = model.GetDeepTransformer();
        var onnxPath = Path.Combine(_dir, "lstm.onnx");
        lstm.ExportToOnnx(onnxPath);
        // The batch graph's input is [N, SequenceValues] (dynamic); ML.NET feeds one row at a time and needs the width.
        var shapes = new Dictionary<string, int[]> { ["Features"] = new[] { 1, 784 } };
        var onnx = ml.Transforms.ApplyOnnxModel(new[] { "Score" }, new[] { "Features" }, onnxPath, shapeDictionary: shapes, gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100).Fit(test);
        var viaOnnx = onnx.Transform(test).GetColumn<float[]>("Score").ToArray();
        var ours = lstm.Transform(((IEnumerable<ITransformer>)model).First().Transform(test)).GetColumn<float[]>("Score").ToArray();
        double diff = ours.Zip(viaOnnx).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        _out.WriteLine($"ApplyOnnxModel on the exported LSTM: max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"ApplyOnnxModel max abs diff {diff}");
    }

    [Theory]
    [InlineData(null, SequenceTruncation.KeepEnd)]        // no MaxLength: sized for the longest training row
    [InlineData(20, SequenceTruncation.KeepEnd)]          // rows over 20 steps keep their last 20
    [InlineData(12, SequenceTruncation.KeepStart)]        // rows over 12 steps keep their first 12
    public void VariableLength_numeric_rows_SaveLoad_scores_identically(int? maxLength, SequenceTruncation truncation)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.VariableRows(TestData.TrainImages(256)));
        var test = ml.Data.LoadFromEnumerable(OnnxSequenceParityTests.VariableRows(TestData.TestImages(TestRows)));
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Gru, bidirectional: true, summary: SequenceSummary.MeanOverTime);
        options.MaxLength = maxLength;
        options.Truncation = truncation;
        var model = Pipeline(ml, options).Fit(train);
        SaveLoadAndCompare(ml, model, train, test, $"variable numeric MaxLength={maxLength?.ToString() ?? "none"} {truncation}");
    }

    [Fact]
    public void Token_keys_from_MapValueToKey_SaveLoad_score_identically_including_unknown_tokens()
    {
        var ml = new MLContext(seed: 1);
        var trainRows = OnnxSequenceParityTests.TokenRows(TestData.TrainImages(256), variable: true);
        var testRows = OnnxSequenceParityTests.TokenRows(TestData.TestImages(TestRows), variable: true);
        testRows[5].Features[0] = 999; // a value the key mapping never saw: key 0, the unknown token
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var test = ml.Data.LoadFromEnumerable(testRows);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Lstm, summary: SequenceSummary.MaxOverTime);
        options.Input = new TokenSequence(8);
        options.MaxLength = 16;
        var model = Pipeline(ml, options, ml.Transforms.Conversion.MapValueToKey("Features")).Fit(train);
        SaveLoadAndCompare(ml, model, train, test, "token keys MaxLength=16");
    }

    [Fact]
    public void Saved_model_refuses_rows_over_MaxLength_when_Truncation_is_Error()
    {
        var ml = new MLContext(seed: 1);
        var short_ = OnnxSequenceParityTests.VariableRows(TestData.TrainImages(128)).Where(r => r.Features.Length <= 20 * 28).ToList();
        var train = ml.Data.LoadFromEnumerable(short_);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Lstm);
        options.MaxLength = 20;
        options.Truncation = SequenceTruncation.Error;
        var model = Pipeline(ml, options).Fit(train);
        var loaded = SaveLoadAndCompare(ml, model, train, ml.Data.LoadFromEnumerable(short_.Take(16)), "Truncation=Error, rows within MaxLength");

        var tooLong = ml.Data.LoadFromEnumerable(new[] { new VariableImageRow { Features = TestData.TestImages(1)[0].Features, Label = "x" } });
        var ours = Assert.ThrowsAny<Exception>(() => model.Transform(tooLong).GetColumn<float[]>("Score").ToArray());
        Assert.Contains("MaxLength=20", ours.Message);
        _out.WriteLine("the transformer refused the long row");
        var saved = Assert.ThrowsAny<Exception>(() => loaded.Transform(tooLong).GetColumn<float[]>("Score").ToArray());
        _out.WriteLine(saved.ToString().Split('\n')[0]);
        Assert.Contains("MaxLength_20_and_Truncation_is_Error", saved.ToString());
    }

    [Theory]
    [InlineData(false, null)]  // numeric steps, sized for the longest training row
    [InlineData(true, 28)]     // tokens (UInt32 ids), MaxLength 28 (taggers refuse to truncate: Truncation = Error)
    public void Tagger_SaveLoad_gives_the_same_per_step_scores_and_tags(bool tokens, int? maxLength)
    {
        var ml = new MLContext(seed: 1);
        var trainRows = OnnxSequenceParityTests.TaggedRows(TestData.TrainImages(256), tokens);
        var testRows = OnnxSequenceParityTests.TaggedRows(TestData.TestImages(TestRows), tokens);
        IDataView Load(List<TaggedImageRow> rows) => tokens
            ? ml.Data.LoadFromEnumerable(rows.Select(r => new TaggedTokenRow { Features = r.Features.Select(v => (uint)v).ToArray(), Label = r.Label }))
            : ml.Data.LoadFromEnumerable(rows);
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Lstm, bidirectional: true, head: new Models.DenseHead { HiddenSizes = new() { 16 } });
        if (tokens) options.Input = new TokenSequence(8) { VocabularySize = OnnxSequenceParityTests.Vocabulary };
        options.MaxLength = maxLength;
        if (maxLength is not null) options.Truncation = SequenceTruncation.Error;
        options.Epochs = 1;
        options.BatchSize = 32;
        var train = Load(trainRows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.SequenceTagging(options)).Fit(train);
        var loaded = SaveAndLoad(ml, model, train.Schema);

        var test = Load(testRows);
        var a = model.Transform(test);
        var b = loaded.Transform(test);
        Assert.Equal(a.Schema["PredictedLabel"].Type, b.Schema["PredictedLabel"].Type);
        var scoresA = a.GetColumn<float[]>("Score").ToArray();
        var scoresB = b.GetColumn<float[]>("Score").ToArray();
        Assert.Equal(scoresA.Select(r => r.Length), scoresB.Select(r => r.Length));
        double diff = scoresA.Zip(scoresB).Max(p => p.First.Zip(p.Second).Select(q => Math.Abs(q.First - q.Second)).DefaultIfEmpty(0).Max());
        _out.WriteLine($"tagger tokens={tokens} MaxLength={maxLength?.ToString() ?? "none"}: Model.Save/Load max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
        Assert.Equal(a.GetColumn<uint[]>("PredictedLabel").ToArray(), b.GetColumn<uint[]>("PredictedLabel").ToArray());
        // MapKeyToValue after the loaded tagger gives the tag names.
        var names = ml.Transforms.Conversion.MapKeyToValue("Tags", "PredictedLabel").Fit(b).Transform(b).GetColumn<string[]>("Tags").First();
        Assert.All(names, n => Assert.Contains(n, new[] { "first", "up", "down", "same" }));
    }

    /// <summary>An adding-problem row of 10 to 30 steps (value, marker): regression target the marked sum, binary target sum &gt; 1.</summary>
    public sealed class AddingRow
    {
        [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
        public float Sum { get; set; }
        public bool Large { get; set; }
    }

    private static List<AddingRow> AddingRows(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            int steps = rng.Next(10, 31);
            var x = new float[steps * 2];
            for (int t = 0; t < steps; t++) x[2 * t] = (float)rng.NextDouble();
            int a = rng.Next(steps / 2), b = steps / 2 + rng.Next(steps - steps / 2);
            x[2 * a + 1] = 1;
            x[2 * b + 1] = 1;
            float sum = x[2 * a] + x[2 * b];
            return new AddingRow { Features = x, Sum = sum, Large = sum > 1 };
        }).ToList();
    }

    [Theory]
    [InlineData(PredictionKind.BinaryClassification)]
    [InlineData(PredictionKind.Regression)]
    public void Binary_and_regression_sequence_models_SaveLoad_with_variable_lengths(PredictionKind kind)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(AddingRows(256, 1));
        var test = ml.Data.LoadFromEnumerable(AddingRows(64, 2));
        var options = OnnxSequenceParityTests.Options(RecurrentCell.Gru, summary: SequenceSummary.LastState);
        options.Input = new NumericSequence(2);
        options.Epochs = 2;
        options.BatchSize = 32;
        options.MaxLength = 24; // rows of 25–30 steps keep their last 24
        IEstimator<ITransformer> trainer = kind == PredictionKind.BinaryClassification
            ? ml.BinaryClassification.Trainers.Sequence(WithLabel(options, "Large"))
            : ml.Regression.Trainers.Sequence(WithLabel(options, "Sum"));
        var model = trainer.Fit(train);
        var loaded = SaveAndLoad(ml, model, train.Schema);
        var expected = RunTransformer(model, test, kind, Array.Empty<string>());
        var actual = RunTransformer(loaded, test, kind, Array.Empty<string>());
        double diff = Compare(expected, actual);
        _out.WriteLine($"{kind} sequence model, MaxLength 24 KeepEnd: Model.Save/Load max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
        Assert.Equal(model.Transform(test).Schema["Score"].Type, loaded.Transform(test).Schema["Score"].Type);
    }

    private static SequenceOptions WithLabel(SequenceOptions options, string label)
    {
        options.LabelColumnName = label;
        return options;
    }
}
