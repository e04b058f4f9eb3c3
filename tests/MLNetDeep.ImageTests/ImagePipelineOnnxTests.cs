using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.Transforms.Image.ImageResizingEstimator;

namespace MLNetDeep.ImageTests;

/// <summary>
/// A whole pipeline with ML.NET's real image steps (LoadImages → ResizeImages → ExtractPixels) in front of a CNN, through
/// ConvertPipelineToOnnx: the image steps, which ONNX can't express, are refused by name with the InputColumns that
/// start the graph after them; started at the pixel column, the graph scores like the pipeline.
/// </summary>
[Trait("Category", "Training")]
public sealed class ImagePipelineOnnxTests
{
    private const int Side = 32;
    private readonly ITestOutputHelper _out;
    public ImagePipelineOnnxTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void ImageSteps_AreRefusedByName_AndTheGraphFromThePixels_ScoresLikeThePipeline()
    {
        var ml = new MLContext(seed: 1);
        var (trainFiles, testFiles) = Samples.Shared.ClipArtImages.Prepare(12, 6);
        var model = ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.ResizeImages("Resized", Side, Side, "Image", resizing: ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Features", "Resized", scaleImage: 1f / 255))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
            {
                ImageShape = new ImageShape(3, Side, Side), Epochs = 2, BatchSize = 16, Seed = 1, Device = Runtime.ComputeDevice.Cpu,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(ml.Data.LoadFromEnumerable(trainFiles));
        var test = ml.Data.LoadFromEnumerable(testFiles);

        var e = Assert.Throws<PipelineOnnxException>(() => ml.Model.ConvertPipelineToOnnx(model, test));
        _out.WriteLine(e.Message);
        Assert.Equal(0, e.StepIndex);
        Assert.Contains("ImageLoadingTransformer", e.Message);
        Assert.Contains("ImageResizingTransformer", e.Message);
        Assert.Contains("PipelineOnnxOptions.InputColumns = new[] { \"Features\" }", e.Message);

        var exported = ml.Model.ConvertPipelineToOnnx(model, test, new PipelineOnnxOptions { InputColumns = new[] { "Features" } });
        var input = Assert.Single(exported.Inputs);
        Assert.Equal("Features", input.ColumnName);

        // The pipeline's own pixels, scores and labels for the held-out files, its network run by LibTorch (the ONNX
        // Runtime engine would compare ONNX Runtime with itself) ...
        model.OfType<Scoring.DeepTransformer>().Single().ScoringEngine = Inference.ScoringEngine.LibTorch;
        var scored = model.Transform(test);
        var pixels = scored.GetColumn<float[]>("Features").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var labels = scored.GetColumn<string>("PredictedLabel").ToArray();
        Assert.Equal(testFiles.Count, pixels.Length);

        // ... and ONNX Runtime on those pixels, in one batch.
        using var session = new InferenceSession(exported.ToArray());
        var feed = NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(pixels.SelectMany(p => p).ToArray(), new[] { pixels.Length, 3 * Side * Side }));
        using var outputs = session.Run(new[] { feed });
        string scoreName = exported.Outputs.Single(o => o.ColumnName == "Score").Name, labelName = exported.Outputs.Single(o => o.ColumnName == "PredictedLabel").Name;
        var ortScores = outputs.Single(o => o.Name == scoreName).AsTensor<float>().ToArray();
        var ortLabels = outputs.Single(o => o.Name == labelName).AsTensor<string>().ToArray();
        double worst = scores.SelectMany(s => s).Zip(ortScores).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"{pixels.Length} held-out images: ONNX Runtime vs the pipeline, max |Score diff| {worst:G3}");
        Assert.True(worst <= 1e-4, $"max abs Score diff {worst}");
        Assert.Equal(labels, ortLabels);
    }
}
