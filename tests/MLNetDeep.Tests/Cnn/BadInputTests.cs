using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Runtime;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using Xunit;

namespace MLNetDeep.Tests.Cnn;

/// <summary>Each kind of bad input fails with a message naming the column or option, the value received and the fix.</summary>
[Trait("Category", "Unit")]
public class BadInputTests
{
    private readonly MLContext _ml = new(seed: 1);

    private sealed class Row
    {
        [VectorType(784)] public float[] Features { get; set; } = new float[784];
        public string Label { get; set; } = "a";
    }

    private sealed class VarRow
    {
        public float[] Features { get; set; } = new float[784];
        public string Label { get; set; } = "a";
    }

    private static Row[] TwoClasses(int n = 20) => Enumerable.Range(0, n).Select(i => new Row { Label = i % 2 == 0 ? "a" : "b" }).ToArray();

    private Exception FitError(IEnumerable<Row> rows, CnnOptions? options = null) =>
        Record.Exception(() => Tiny.Multiclass(_ml, options ?? Tiny.Options()).Fit(_ml.Data.LoadFromEnumerable(rows)))!;

    [Fact]
    public void Missing_feature_column_names_it_and_lists_the_columns()
    {
        var options = Tiny.Options();
        options.FeatureColumnName = "Pixels";
        var e = FitError(TwoClasses(), options);
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("FeatureColumnName", e.Message);
    }

    [Fact]
    public void Missing_label_column_is_named()
    {
        var options = Tiny.Options();
        options.LabelColumnName = "Class";
        var e = Record.Exception(() => _ml.MulticlassClassification.Trainers.Cnn(options).Fit(_ml.Data.LoadFromEnumerable(TwoClasses())));
        Assert.Contains("'Class'", e!.Message);
    }

    [Fact]
    public void Wrong_vector_size_for_the_declared_shape_says_both_sizes()
    {
        var options = Tiny.Options();
        options.ImageShape = new ImageShape(3, 28, 28);
        var e = FitError(TwoClasses(), options);
        Assert.Contains("784", e.Message);
        Assert.Contains("2352", e.Message);
        Assert.Contains("3 x 28 x 28", e.Message);
    }

    [Fact]
    public void Variable_size_vector_is_refused_with_the_fix()
    {
        var rows = Enumerable.Range(0, 10).Select(i => new VarRow { Label = i % 2 == 0 ? "a" : "b" });
        var e = Record.Exception(() => Tiny.Multiclass(_ml, Tiny.Options()).Fit(_ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("variable-size", e!.Message);
        Assert.Contains("ResizeImages", e.Message);
    }

    [Fact]
    public void NaN_or_infinite_features_name_the_row_and_slot()
    {
        var rows = TwoClasses();
        rows[5].Features[17] = float.NaN;
        var e = FitError(rows);
        Assert.IsType<InvalidDataException>(e);
        Assert.Contains("row 5, slot 17", e.Message);
        Assert.Contains("ReplaceMissingValues", e.Message);
        rows[5].Features[17] = float.PositiveInfinity;
        Assert.Contains("not finite", FitError(rows).Message);
    }

    [Fact]
    public void Missing_key_label_names_the_row()
    {
        // A label MapValueToKey never saw becomes key 0 (missing).
        var keys = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(_ml.Data.LoadFromEnumerable(TwoClasses()));
        var rows = TwoClasses();
        rows[3].Label = "unseen";
        var e = Record.Exception(() => _ml.MulticlassClassification.Trainers.Cnn(Tiny.Options()).Fit(keys.Transform(_ml.Data.LoadFromEnumerable(rows))));
        Assert.Contains("row 3", e!.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Text_label_without_MapValueToKey_says_how_to_fix_it()
    {
        var e = Record.Exception(() => _ml.MulticlassClassification.Trainers.Cnn(Tiny.Options()).Fit(_ml.Data.LoadFromEnumerable(TwoClasses())));
        Assert.Contains("key-typed label", e!.Message);
        Assert.Contains("MapValueToKey(\"Label\")", e.Message);
    }

    [Fact]
    public void Validation_data_with_more_classes_than_training_data_is_refused()
    {
        var keys = _ml.Transforms.Conversion.MapValueToKey("Label");
        var train = keys.Fit(_ml.Data.LoadFromEnumerable(TwoClasses())).Transform(_ml.Data.LoadFromEnumerable(TwoClasses()));
        var threeClasses = TwoClasses().Append(new Row { Label = "c" }).ToArray();
        var val = keys.Fit(_ml.Data.LoadFromEnumerable(threeClasses)).Transform(_ml.Data.LoadFromEnumerable(threeClasses));
        var e = Record.Exception(() => _ml.MulticlassClassification.Trainers.Cnn(Tiny.Options()).Fit(train, val));
        Assert.Contains("3 classes", e!.Message);
        Assert.Contains("2", e.Message);
    }

    [Fact]
    public void A_single_class_is_refused()
    {
        var rows = Enumerable.Range(0, 10).Select(_ => new Row { Label = "a" });
        var e = FitError(rows);
        Assert.Contains("single class", e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Empty_data_is_refused()
    {
        var e = FitError(Array.Empty<Row>());
        Assert.Contains("no rows", e.Message);
    }

    [Theory]
    [InlineData(0, 32, "Epochs", "Epochs=0")]
    [InlineData(-2, 32, "Epochs", "Epochs=-2")]
    [InlineData(1, 0, "BatchSize", "BatchSize=0")]
    [InlineData(1, -5, "BatchSize", "BatchSize=-5")]
    public void Non_positive_epochs_or_batch_size_repeat_the_value(int epochs, int batch, string option, string received)
    {
        var options = Tiny.Options(epochs: epochs, batchSize: batch);
        var e = FitError(TwoClasses(), options);
        Assert.Contains(option, e.Message);
        Assert.Contains($"Received: {received}", e.Message);
    }

    [Fact]
    public void Missing_image_shape_and_bad_optimizer_options_are_explained()
    {
        var options = Tiny.Options();
        options.ImageShape = null;
        Assert.Contains("ImageShape", FitError(TwoClasses(), options).Message);
        options = Tiny.Options();
        options.Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = -1 };
        Assert.Contains("Received: LearningRate=-1", FitError(TwoClasses(), options).Message);
        options = Tiny.Options();
        options.Optimizer = new MLNetDeep.Optimizers.Sgd { Nesterov = true };
        Assert.Contains("Momentum > 0", FitError(TwoClasses(), options).Message);
    }

    [Fact]
    public void An_image_shrunk_to_nothing_names_the_layer()
    {
        var options = Tiny.Options();
        options.Layers = new() { new ConvBlock(4, 3, PoolingKind.Max) { PoolSize = 8 }, new ConvBlock(4, 3, PoolingKind.Max) { PoolSize = 8 } };
        var e = FitError(TwoClasses(), options);
        Assert.Contains("Layers[1]", e.Message);
    }

    [Fact]
    public void Diverging_training_names_the_epoch_step_and_causes()
    {
        var rng = new Random(3);
        var rows = Enumerable.Range(0, 64).Select(i => new Row
        {
            Label = i % 2 == 0 ? "a" : "b",
            Features = Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble() * 1000).ToArray(),
        }).ToArray();
        var options = Tiny.Options(epochs: 5, batchSize: 8);
        options.Layers = new() { new ConvBlock(8, 3, PoolingKind.Max) { PoolSize = 4, BatchNorm = false } };
        options.Optimizer = new MLNetDeep.Optimizers.Sgd { LearningRate = 1e12 };
        var e = FitError(rows, options);
        Assert.IsType<Training.TrainingDivergedException>(e);
        Assert.Matches(@"epoch \d+, step \d+ of 8", e.Message);
        Assert.Contains("learning rate", e.Message);
    }

    [Fact]
    public void Cuda_requested_without_a_cuda_backend_is_a_clear_error()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // only meaningful on a CPU-only machine
        var options = Tiny.Options();
        options.Device = ComputeDevice.Cuda;
        var e = FitError(TwoClasses(), options);
        Assert.Contains("TorchSharp-cuda-linux", e.Message);
    }

    [Fact]
    public void Corrupt_truncated_and_foreign_model_files_are_refused_clearly()
    {
        var model = Tiny.Multiclass(_ml, Tiny.Options()).Fit(_ml.Data.LoadFromEnumerable(TwoClasses()));
        var cnn = model.Deep();
        using var ms = new MemoryStream();
        cnn.Save(ms);
        var bytes = ms.ToArray();

        var truncated = bytes[..(bytes.Length / 2)];
        Assert.Contains("corrupt or truncated", Assert.Throws<InvalidDataException>(() => DeepTransformer.Load(new MemoryStream(truncated))).Message);
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0xFF;
        Assert.Contains("corrupt", Assert.Throws<InvalidDataException>(() => DeepTransformer.Load(new MemoryStream(flipped))).Message);
        var foreign = System.Text.Encoding.ASCII.GetBytes("PK\u0003\u0004 this is a zip, not a model");
        Assert.Contains("not an MLNetDeep model", Assert.Throws<InvalidDataException>(() => DeepTransformer.Load(new MemoryStream(foreign))).Message);
        Assert.Throws<FileNotFoundException>(() => DeepTransformer.Load("/nonexistent/model.mlnd"));
    }

    [Fact]
    public void Scoring_data_without_the_feature_column_is_refused()
    {
        var model = Tiny.Multiclass(_ml, Tiny.Options()).Fit(_ml.Data.LoadFromEnumerable(TwoClasses()));
        var cnn = model.Deep();
        var other = _ml.Data.LoadFromEnumerable(new[] { new { Label = "a" } });
        var e = Record.Exception(() => cnn.Transform(other));
        Assert.Contains("'Features'", e!.Message);
    }
}
