using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;
using MLNetDeep.Transfer;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Backbones;

/// <summary>
/// A fine-tuned ResNet18 model is self-contained: its own format (trained from a copy of the package's files that is
/// deleted before loading), one ONNX graph scored by ONNX Runtime, an ML.NET model zip; and a second Fit continues it
/// on the transfer machinery with the frozen prefix cached.
/// </summary>
[Collection("Backbones")]
[Trait("Category", "Training")]
public sealed class BackbonePersistenceTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnd-backbone-" + Guid.NewGuid().ToString("N"));

    public BackbonePersistenceTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<(MLContext Ml, IDataView Train, IDataView Test, byte[] Model)> FineTuned = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = BackboneData.Views(ml, 96, 48);
        var files = BackboneData.CopyOfResNet18Files();
        try
        {
            var options = BackboneData.Options(epochs: 6, new FineTuneOptions { Epochs = 1, TrainableBlocks = 2 }, modelsFolder: files);
            using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train);
            using var saved = new MemoryStream();
            model.Save(saved);
            return (ml, train, test, saved.ToArray());
        }
        finally
        {
            Directory.Delete(files, recursive: true); // the model must not need them from here on
        }
    });

    private static float[][] Scores(ITransformer model, IDataView data) => model.Transform(data).GetColumn<float[]>("Score").ToArray();

    [Fact]
    public void SavedModel_LoadsWithoutTheOnnxFiles_AndScoresIdentically_AndKeepsNoSecondCopyOfTheWeights()
    {
        var (ml, _, test, bytes) = FineTuned.Value;
        var path = Path.Combine(_dir, "resnet.mlnd");
        File.WriteAllBytes(path, bytes);
        using var first = DeepTransformer.Load(new MemoryStream(bytes));
        using var loaded = DeepTransformer.Load(path);
        var arch = Assert.IsType<BackboneArchitecture>(loaded.Description.Architecture);
        _out.WriteLine($"model file {bytes.Length:N0} bytes; saved graph {arch.Graph.Length:N0} bytes; {arch.BlockCount} blocks");
        Assert.Equal(10, arch.BlockCount);
        Assert.True(arch.Graph.Length < 100_000, $"the saved graph has {arch.Graph.Length} bytes: its weights should be in the state only");
        long weights = loaded.Network.parameters().Sum(p => p.numel()) * 4;
        Assert.True(bytes.Length < weights * 1.05 + 1_000_000, $"{bytes.Length} bytes for {weights} bytes of weights");
        var a = Scores(first, test);
        var b = Scores(loaded, test);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
        Assert.Equal(new[] { "head", "fine-tune" }, loaded.History.Phases.Select(p => p.Name));
    }

    [Fact]
    public void ExportedOnnx_IsOneGraph_ScoredByOnnxRuntime_LikeTheTransformer()
    {
        var (_, _, test, bytes) = FineTuned.Value;
        using var model = DeepTransformer.Load(new MemoryStream(bytes));
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        var expected = Scores(model, test);
        var rows = test.GetColumn<float[]>("Features").ToArray();
        using var session = new InferenceSession(stream.ToArray());
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), new[] { rows.Length, rows[0].Length });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) });
        var scores = results.First(r => r.Name == "Score").AsTensor<float>().ToArray();
        double worst = 0;
        for (int i = 0; i < rows.Length; i++)
            for (int k = 0; k < expected[i].Length; k++)
                worst = Math.Max(worst, Math.Abs(expected[i][k] - scores[i * expected[i].Length + k]));
        _out.WriteLine($"ONNX Runtime vs transformer, {rows.Length} rows: max abs probability difference {worst:G3}");
        Assert.True(worst < 1e-4, $"max abs difference {worst}");
    }

    [Fact]
    public void MLNetModelSave_GivesAPipelineThatScoresTheSame()
    {
        var (ml, train, test, bytes) = FineTuned.Value;
        using var model = DeepTransformer.Load(new MemoryStream(bytes));
        var path = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var expected = Scores(model, test);
        var actual = Scores(loaded, test);
        double worst = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max()).Max();
        _out.WriteLine($"Model.Save/Load max abs difference {worst:G3}");
        Assert.True(worst < 1e-4, $"max abs difference {worst}");
    }

    [Fact]
    public void SecondFit_FromTheModel_FineTunesTheTopBlock_WithTheFrozenPrefixCachedAndUnchanged()
    {
        var (ml, train, _, bytes) = FineTuned.Value;
        using var start = DeepTransformer.Load(new MemoryStream(bytes));
        var options = new CnnOptions
        {
            WarmStartFrom = start,
            Transfer = new TransferOptions { FreezeBlocks = 9, BodyLearningRateMultiplier = 0.1 },
            Head = new Models.DenseHead { HiddenSizes = new(), InputDropout = 0.2 },
            Epochs = 1, BatchSize = 32, Seed = 3, Device = Runtime.ComputeDevice.Cpu,
        };
        using var tuned = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train);
        var phase = Assert.Single(tuned.History.Phases);
        Assert.Equal("fine-tune", phase.Name);
        Assert.True(phase.CachedFeatures);
        Assert.Equal(9, phase.FrozenBlocks);
        var before = start.Network.state_dict();
        var after = tuned.Network.state_dict();
        foreach (var (name, value) in before)
        {
            bool same = value.eq(after[name]).all().item<bool>();
            if (name.StartsWith("body.block9.", StringComparison.Ordinal) || name.StartsWith("head.", StringComparison.Ordinal)) continue;
            Assert.True(same, $"{name} changed although its block is frozen");
        }
        Assert.Contains(before.Keys.Where(k => k.StartsWith("body.block9.", StringComparison.Ordinal)), k => !before[k].eq(after[k]).all().item<bool>());
    }
}
