using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Tests.Support;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Backbones;

/// <summary>Real images for the backbone tests: Fashion-MNIST (0-1 grey) resized bilinearly to <c>size</c> × <c>size</c>, one grey plane (the backbone repeats it to RGB).</summary>
internal static class BackboneData
{
    public const int Size = 64;
    public static ImageShape Shape => new(1, Size, Size);

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    public static List<Row> Rows(bool train, int n, int skip = 0)
    {
        var images = (train ? TestData.TrainImages(skip + n) : TestData.TestImages(skip + n)).Skip(skip).ToList();
        using var scope = NewDisposeScope();
        var grey = tensor(images.SelectMany(i => i.Features).ToArray()).reshape(n, 1, 28, 28);
        var big = nn.functional.interpolate(grey, new long[] { Size, Size }, mode: InterpolationMode.Bilinear, align_corners: false).contiguous().reshape(n, -1);
        var values = big.data<float>().ToArray();
        return images.Select((img, i) => new Row { Features = values.AsSpan(i * Size * Size, Size * Size).ToArray(), Label = img.Label }).ToList();
    }

    /// <summary>The rows as an IDataView (Features a known-size vector, Label a string).</summary>
    public static IDataView Raw(MLContext ml, IEnumerable<Row> rows)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Size * Size);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>Training and test views with the label mapped to a key by one MapValueToKey fitted on the training rows.</summary>
    public static (IDataView Train, IDataView Test) Views(MLContext ml, int train, int test)
    {
        var trainView = Raw(ml, Rows(train: true, train));
        var mapping = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView);
        return (mapping.Transform(trainView), mapping.Transform(Raw(ml, Rows(train: false, test))));
    }

    /// <summary>A copy of the package's ResNet18 files in a temporary folder (deleted by the caller), so a test can show a model works without them.</summary>
    public static string CopyOfResNet18Files()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlnd-resnet18-" + Guid.NewGuid().ToString("N"));
        foreach (var (file, sub) in new[] { (OnnxFiles.ResNet18, "ResNet18Onnx"), (OnnxFiles.ResNetPreprocess, "ResNetPrepOnnx") })
        {
            Directory.CreateDirectory(Path.Combine(folder, sub));
            File.Copy(file, Path.Combine(folder, sub, Path.GetFileName(file)));
        }
        return folder;
    }

    /// <summary>Options for a small, quick backbone fit on these images.</summary>
    public static CnnOptions Options(int epochs = 2, FineTuneOptions? fineTune = null, string? modelsFolder = null) => new()
    {
        ImageShape = Shape,
        Backbone = Backbone.ResNet18(modelsFolder),
        FineTune = fineTune,
        Head = new Models.DenseHead { HiddenSizes = new(), InputDropout = 0.2 },
        Epochs = epochs,
        BatchSize = 32,
        Seed = 7,
        Device = Runtime.ComputeDevice.Cpu,
    };
}
