using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.ImageTests;

/// <summary>
/// A small real image set read from PNG files through ML.NET's LoadImages → ResizeImages → ExtractPixels: clip art of
/// five categories from Debian's openclipart-png (mixed sizes and aspect ratios, put on white), as a user's folder of images would be.
/// </summary>
[Trait("Category", "Training")]
public sealed class ClipArtTransferTests
{
    private const int Size = 128, SmallSize = 64;
    private readonly ITestOutputHelper _out;
    public ClipArtTransferTests(ITestOutputHelper output) => _out = output;

    /// <summary>
    /// The images of a seeded split as pixel vectors (3 × size × size in "Features", 3 × smallSize × smallSize in
    /// "Small"; 0–1), each file decoded once and cached.
    /// </summary>
    internal static (IDataView Train, IDataView Test) Images(MLContext ml, int trainPerClass, int testPerClass, int size, int smallSize)
    {
        var (trainFiles, testFiles) = Samples.Shared.ClipArtImages.Prepare(trainPerClass, testPerClass);
        var fill = Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill;
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.ImagePath)))
            .Append(ml.Transforms.ResizeImages("Resized", size, size, "Image", resizing: fill))
            .Append(ml.Transforms.ResizeImages("ResizedSmall", smallSize, smallSize, "Image", resizing: fill))
            .Append(ml.Transforms.ExtractPixels("Features", "Resized", scaleImage: 1f / 255))
            .Append(ml.Transforms.ExtractPixels("Small", "ResizedSmall", scaleImage: 1f / 255))
            .Append(ml.Transforms.DropColumns("Image", "Resized", "ResizedSmall"));
        var trainView = ml.Data.LoadFromEnumerable(trainFiles);
        var prep = pipeline.Fit(trainView);
        return (ml.Data.Cache(prep.Transform(trainView)), ml.Data.Cache(prep.Transform(ml.Data.LoadFromEnumerable(testFiles))));
    }

    [Fact]
    public void FineTunedResNet18_BeatsTheScratchCnn_ByAWideMargin()
    {
        var ml = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        var (train, test) = Images(ml, 30, 16, Size, SmallSize);
        _out.WriteLine($"{train.GetColumn<uint>("Label").Count()} training and {test.GetColumn<uint>("Label").Count()} test images decoded in {clock.Elapsed.TotalSeconds:F1} s");

        clock.Restart();
        // The CNN from scratch (default layers) gets the same files at 64 × 64, where it trains four times faster.
        using var scratch = ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new ImageShape(3, SmallSize, SmallSize), FeatureColumnName = "Small", Epochs = 12, BatchSize = 32, Seed = 1,
            Device = Runtime.ComputeDevice.Cpu,
        }).Fit(train);
        double scratchAccuracy = ml.MulticlassClassification.Evaluate(scratch.Transform(test)).MicroAccuracy;
        _out.WriteLine($"scratch CNN: accuracy {scratchAccuracy:F4} in {clock.Elapsed.TotalSeconds:F1} s");

        clock.Restart();
        using var tuned = ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new ImageShape(3, Size, Size),
            Backbone = Backbone.ResNet18(),
            Head = new DenseHead { HiddenSizes = new(), InputDropout = 0.2 },
            Epochs = 30,
            FineTune = new FineTuneOptions { Epochs = 3, TrainableBlocks = 2 },
            BatchSize = 32, Seed = 1, Device = Runtime.ComputeDevice.Cpu,
        }).Fit(train);
        double tunedAccuracy = ml.MulticlassClassification.Evaluate(tuned.Transform(test)).MicroAccuracy;
        _out.WriteLine($"ResNet18 head + fine-tune: accuracy {tunedAccuracy:F4} in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var p in tuned.History.Phases) _out.WriteLine($"  {p.Name}: epochs {p.FirstEpoch}-{p.LastEpoch}, {p.Description}");

        Assert.True(tunedAccuracy >= scratchAccuracy + 0.15, $"fine-tuned {tunedAccuracy:F4} vs scratch {scratchAccuracy:F4}");
        Assert.True(tunedAccuracy >= 0.55, $"fine-tuned accuracy {tunedAccuracy:F4} on 5 classes (chance 0.2)");
    }
}
