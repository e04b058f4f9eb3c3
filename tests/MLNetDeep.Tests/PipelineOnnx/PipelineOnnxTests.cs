using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using MLNetDeep.Optimizers;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.PipelineOnnx.PipelineOnnxCheck;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>
/// mlContext.Model.ConvertPipelineToOnnx on fitted pipelines of every covered shape and task, on real data (Fashion-MNIST,
/// Debian's English and German word lists): ONNX Runtime on the raw input columns gives the pipeline's labels on every row
/// and its scores within 1e-4, ApplyOnnxModel in a fresh MLContext the same, and onnx's full checker accepts the file.
/// </summary>
[Trait("Category", "Training")]
public sealed class PipelineOnnxTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-pipeline-onnx-" + Guid.NewGuid().ToString("N"));

    public PipelineOnnxTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Log(string line) => _out.WriteLine(line);

    private static (ITransformer Model, IDataView Test) CnnPipeline(MLContext ml)
    {
        var train = TestData.TrainView(ml, 512);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Cnn(Tiny.Options()))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(train);
        return (model, TestData.TestView(ml, 256));
    }

    private static (ITransformer Model, IDataView Test) CharacterPipeline(MLContext ml)
    {
        var train = ml.Data.LoadFromEnumerable(PipelineData.Words(400, part: 0));
        var model = PipelineData.Characters(ml)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.Sequence(PipelineData.TokenOptions()))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(train);
        return (model, ml.Data.LoadFromEnumerable(PipelineData.Words(100, part: 1)));
    }

    [Fact]
    public void MapValueToKey_Cnn_MapKeyToValue_exports_with_the_network_and_scores_like_the_pipeline()
    {
        var ml = new MLContext(seed: 1);
        var (model, test) = CnnPipeline(ml);
        var exported = ml.Model.ConvertPipelineToOnnx(model, test);

        var input = Assert.Single(exported.Inputs);   // no Label: the label mapping before the model is not an output
        Assert.Equal(("Features", "float"), (input.Name, input.ElementType));
        Assert.Equal(new[] { "N", "784" }, input.Shape);
        Assert.False(exported.OneRowPerRun);
        Assert.Equal(new[] { "Score", "PredictedLabel" }, exported.Outputs.Select(o => o.Name));
        Assert.Equal(new[] { "float", "string" }, exported.Outputs.Select(o => o.ElementType));
        Assert.Equal(new[] { "N", "10" }, exported.Outputs[0].Shape);
        Log(string.Join("\n", exported.Steps));
        Log($"{exported.Length} bytes");
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void Characters_as_keys_Gru_MapKeyToValue_takes_raw_text_and_gives_the_language_names()
    {
        var ml = new MLContext(seed: 1);
        var (model, test) = CharacterPipeline(ml);
        var accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        Log($"character GRU, English vs German words: test accuracy {accuracy:F3}");

        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        var input = Assert.Single(exported.Inputs);
        Assert.Equal(("Text", "string"), (input.Name, input.ElementType));
        Assert.Equal(new[] { "1", "1" }, input.Shape); // rows differ in length: one row per run
        Assert.True(exported.OneRowPerRun);
        Assert.Equal(new[] { "Score", "PredictedLabel" }, exported.Outputs.Select(o => o.Name));
        Assert.Equal("string", exported.Outputs[1].ElementType);
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void Words_as_keys_Lstm_binary_outputs_score_probability_and_a_boolean_label()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(PipelineData.Sentences(200, part: 0));
        var test = ml.Data.LoadFromEnumerable(PipelineData.Sentences(60, part: 1));
        var options = PipelineData.TokenOptions();
        options.Cell = MLNetDeep.Models.Sequence.RecurrentCell.Lstm;
        options.Bidirectional = true;
        var model = ml.Transforms.Text.TokenizeIntoWords("Words", "Text")
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Words"))
            .Append(ml.BinaryClassification.Trainers.Sequence(options)).Fit(train);

        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        Assert.Equal("Text", Assert.Single(exported.Inputs).Name);
        Assert.Equal(new[] { "Score", "Probability", "PredictedLabel" }, exported.Outputs.Select(o => o.Name));
        Assert.Equal(new[] { "float", "float", "bool" }, exported.Outputs.Select(o => o.ElementType));
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void NormalizeMinMax_Cnn_regression_exports_the_normalizer()
    {
        var ml = new MLContext(seed: 1);
        IDataView Rows(List<FashionMnistImage> images) => ml.Data.LoadFromEnumerable(images.Select(i =>
            new ImageNumberRow { Features = i.Features.Select(p => p * 255f).ToArray(), Label = FashionMnist.ClassNames.ToList().IndexOf(i.Label) }));
        var train = Rows(TestData.TrainImages(512));
        var test = Rows(TestData.TestImages(200));
        var model = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Regression.Trainers.Cnn(Tiny.Options())).Fit(train);

        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        Assert.Equal("Features", Assert.Single(exported.Inputs).Name); // the raw 0-255 pixels; the graph normalises
        Assert.Equal(new[] { "Score" }, exported.Outputs.Select(o => o.Name));
        Assert.Equal(new[] { "N", "1" }, exported.Outputs[0].Shape);
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void Two_models_with_NormalizeMeanVariance_CopyColumns_Concatenate_and_DropColumns_in_one_graph()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.TrainView(ml, 384);
        var test = TestData.TestView(ml, 128);
        var cnn = Tiny.Options();
        cnn.FeatureColumnName = "Norm";
        cnn.ScoreColumnName = "CnnScore";
        cnn.PredictedLabelColumnName = "CnnLabel";
        var rows = new SequenceOptions
        {
            Input = new NumericSequence(28), FeatureColumnName = "Rows", HiddenSize = 12, Epochs = 1, BatchSize = 64,
            Optimizer = new Adam { LearningRate = 3e-3 },
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Norm", "Features"))
            .Append(ml.MulticlassClassification.Trainers.Cnn(cnn))
            .Append(ml.Transforms.CopyColumns("Rows", "Features"))
            .Append(ml.MulticlassClassification.Trainers.Sequence(rows))            // an LSTM reading the image row by row
            .Append(ml.Transforms.Concatenate("BothScores", "CnnScore", "Score"))
            .Append(ml.Transforms.DropColumns("Norm", "Rows"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("CnnLabel")).Fit(train);

        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        Log(string.Join("\n", exported.Steps));
        Assert.Equal("Features", Assert.Single(exported.Inputs).Name);
        Assert.Equal(new[] { "CnnScore", "CnnLabel", "Score", "PredictedLabel", "BothScores" }.OrderBy(n => n), exported.Outputs.Select(o => o.Name).OrderBy(n => n));
        Assert.Equal(new[] { "N", "20" }, exported.Outputs.Single(o => o.Name == "BothScores").Shape);
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void Character_tagger_outputs_one_tag_per_letter_from_raw_text()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(PipelineData.Tagged(300, part: 0));
        var test = ml.Data.LoadFromEnumerable(PipelineData.Tagged(60, part: 1));
        var options = PipelineData.TokenOptions();
        options.LabelColumnName = "TagKeys";
        options.Bidirectional = true;
        var model = PipelineData.Characters(ml)
            .Append(PipelineData.Characters(ml, "TagKeys", "Tags"))
            .Append(ml.MulticlassClassification.Trainers.SequenceTagging(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedTags", "PredictedLabel")).Fit(train);

        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        Assert.Equal("Text", Assert.Single(exported.Inputs).Name); // the tags are a training-only input
        Assert.Equal(new[] { "Score", "PredictedLabel", "PredictedTags" }, exported.Outputs.Select(o => o.Name));
        Assert.Equal(new[] { "float", "uint32", "string" }, exported.Outputs.Select(o => o.ElementType));
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
        var tags = RunOrt(exported.ToArray(), exported, test)["PredictedTags"];
        var words = Column(test, "Text");
        Assert.All(Enumerable.Range(0, words.Count), r => Assert.Equal(((string)words[r][0]).Length, tags[r].Length));
    }

    [Fact]
    public void Opset_20_rewrites_MLNET_operators_and_scores_the_same()
    {
        var ml = new MLContext(seed: 1);
        var (model, test) = CharacterPipeline(ml);
        var exported = ml.Model.ConvertPipelineToOnnx(model, test, new PipelineOnnxOptions { Opset = 20 });
        Assert.Equal(20, exported.Opset);
        var graph = MLNetDeep.Onnx.Proto.ModelProto.Parse(exported.ToArray());
        Assert.Equal(20, graph.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal(9, graph.IrVersion);
        var squeeze = graph.Graph.Nodes.First(n => n.OpType == "Squeeze");
        Assert.Equal(2, squeeze.Inputs.Count);                 // axes moved from an attribute (opset 12) to an input
        Assert.DoesNotContain(squeeze.Attributes, a => a.Name == "axes");
        AssertExportScoresLikeThePipeline(model, exported, test, _dir, Log);
    }

    [Fact]
    public void Explicit_OutputColumns_choose_the_outputs_and_the_inputs_follow()
    {
        var ml = new MLContext(seed: 1);
        var (model, test) = CnnPipeline(ml);
        var onlyLabel = ml.Model.ConvertPipelineToOnnx(model, test, new PipelineOnnxOptions { OutputColumns = new[] { "PredictedLabel" } });
        Assert.Equal("PredictedLabel", Assert.Single(onlyLabel.Outputs).Name);
        AssertExportScoresLikeThePipeline(model, onlyLabel, test, _dir, Log);

        // the label mapping as an output needs the label as an input; an output whose column is also an input gets ".output"
        var withLabel = ml.Model.ConvertPipelineToOnnx(model, test, new PipelineOnnxOptions { OutputColumns = new[] { "Label", "PredictedLabel" } });
        Assert.Equal(new[] { "Features", "Label" }, withLabel.Inputs.Select(i => i.Name).OrderBy(n => n));
        Assert.Equal(new[] { "Label.output", "PredictedLabel" }, withLabel.Outputs.Select(o => o.Name));
        Assert.Equal("uint32", withLabel.Outputs[0].ElementType);
        var keys = RunOrt(withLabel.ToArray(), withLabel, test)["Label.output"];
        var expected = Column(model.Transform(test), "Label");
        Assert.Equal(expected.Select(r => r[0]), keys.Select(r => r[0]));
    }

    [SkippableFact]
    public void Exported_files_pass_onnx_full_checker()
    {
        var why = OnnxChecker.Unavailable.Value;
        Skip.If(why is not null, why);
        var ml = new MLContext(seed: 1);
        foreach (var (name, (model, test)) in new[] { ("cnn", CnnPipeline(ml)), ("characters", CharacterPipeline(ml)) })
        {
            var path = Path.Combine(_dir, $"{name}.onnx");
            ml.Model.ConvertPipelineToOnnx(model, test, path);
            Log($"{name}: {OnnxChecker.Check(path, 17)}");
        }
    }
}
