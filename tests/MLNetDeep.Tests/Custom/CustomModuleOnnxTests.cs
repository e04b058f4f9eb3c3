using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Custom;
using MLNetDeep.Onnx;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Onnx;
using MLNetDeep.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Custom;

/// <summary>
/// Custom modules built from standard TorchSharp layers export to ONNX: ONNX Runtime's outputs match the transformer's
/// within 1e-5 on real Fashion-MNIST test rows (batches of 1, 7 and 64) for every exportable layer and option, and a
/// saved ML.NET model zip scores the same after loading. Anything else is refused naming the module's path and type.
/// </summary>
[Trait("Category", "Unit")]
public sealed class CustomModuleOnnxTests
{
    private const float Tight = 1e-5f;
    private readonly ITestOutputHelper _out;

    public CustomModuleOnnxTests(ITestOutputHelper output)
    {
        _out = output;
        TestModules.EnsureRegistered();
    }

    /// <summary>Registers <paramref name="build"/> under a name of its own (once per test run).</summary>
    private static string Register(string name, Func<CustomModuleContext, nn.Module<Tensor, Tensor>> build)
    {
        name = "tests.onnx." + name;
        lock (Built)
        {
            if (Built.Add(name)) CustomModules.Register(name, build);
        }
        return name;
    }

    private static readonly HashSet<string> Built = new();

    /// <summary>One epoch on 256 real rows (batch 32): enough to move weights and batch-norm statistics off their initial values.</summary>
    private static (ITransformer Pipeline, DeepTransformer Model) Train(MLContext ml, PredictionKind kind, string module, int[] shape)
    {
        var options = new CustomModuleOptions
        {
            ModuleName = module, InputShape = shape, Epochs = 1, BatchSize = 32, Seed = 1,
            Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = 3e-3 }, Device = MLNetDeep.Runtime.ComputeDevice.Cpu,
        };
        var train = TrainView(ml, kind, 256);
        IEstimator<ITransformer> trainer = kind switch
        {
            PredictionKind.MulticlassClassification => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.CustomModule(options)),
            PredictionKind.BinaryClassification => ml.BinaryClassification.Trainers.CustomModule(options),
            _ => ml.Regression.Trainers.CustomModule(options),
        };
        var pipeline = trainer.Fit(train).ScoredByLibTorch(); // expected values from the network itself, not ONNX Runtime
        return (pipeline, pipeline.GetDeepTransformer());
    }

    private double CheckParity(string module, int[] shape, PredictionKind kind = PredictionKind.MulticlassClassification, OnnxExportOptions? export = null)
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, kind, module, shape);
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, export);
        var expected = RunTransformer(pipeline, TestView(ml, kind), kind, model.ClassNames);
        double worst = 0;
        foreach (var batch in new[] { 1, 7, TestRows })
        {
            double diff = Compare(expected, RunOnnx(stream.ToArray(), TestFeatures(), batch));
            _out.WriteLine($"{module} {kind} batch {batch}: max abs diff {diff:G3}");
            Assert.True(diff <= Tight, $"max abs diff {diff} > {Tight} (batch {batch})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }

    public static TheoryData<string> ActivationNames => new()
    {
        "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid", "tanh", "softplus", "softplus_beta2", "silu", "hardswish", "identity",
    };

    private static nn.Module<Tensor, Tensor> Activation(string name) => name switch
    {
        "relu" => nn.ReLU(),
        "relu6" => nn.ReLU6(),
        "leaky_relu" => nn.LeakyReLU(0.2),
        "elu" => nn.ELU(0.7),
        "selu" => nn.SELU(),
        "gelu" => nn.GELU(),
        "gelu_tanh" => nn.GELU(GELU.Approximate.tanh),
        "sigmoid" => nn.Sigmoid(),
        "tanh" => nn.Tanh(),
        "softplus" => nn.Softplus(),
        "softplus_beta2" => nn.Softplus(beta: 2),
        "silu" => nn.SiLU(),
        "hardswish" => nn.Hardswish(),
        _ => nn.Identity(),
    };

    /// <summary>Conv + BN + act + max pool, "same" conv + act + average pool, flatten, Linear + BatchNorm1d + act, dropout, Linear.</summary>
    private static string ActivationNet(string activation) => Register("act-" + activation, c => nn.Sequential(
        ("conv1", nn.Conv2d(1, 8, 3, padding: 1)),
        ("norm1", nn.BatchNorm2d(8)),
        ("act1", Activation(activation)),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(8, 8, 3, padding: Padding.Same)),
        ("act2", Activation(activation)),
        ("pool2", nn.AvgPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense", nn.Linear(8 * 7 * 7, 16)),
        ("norm2", nn.BatchNorm1d(16)),
        ("act3", Activation(activation)),
        ("dropout", nn.Dropout(0.3)),
        ("output", nn.Linear(16, c.OutputSize))));

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void EveryActivation_InASequentialCnn(string activation) => CheckParity(ActivationNet(activation), new[] { 1, 28, 28 });

    [Fact]
    public void NativeGelu_AtOpset20_AndBatchNormAsNodes()
    {
        CheckParity(ActivationNet("gelu_tanh"), new[] { 1, 28, 28 }, export: new OnnxExportOptions { Opset = 20 });
        CheckParity(ActivationNet("relu"), new[] { 1, 28, 28 }, export: new OnnxExportOptions { FoldBatchNorm = false });
    }

    [Fact]
    public void Conv2dOptions_StrideDilationGroupsPadding_AndPoolingOptions()
    {
        var name = Register("conv2d-options", c => nn.Sequential(
            ("conv1", nn.Conv2d(1, 8, (3, 3), stride: (2, 2), padding: (1, 2), bias: false)),        // 28x28 → 14x15
            ("norm1", nn.BatchNorm2d(8)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(8, 8, (3, 3), dilation: (2, 2), padding: (2, 2), groups: 2)),         // grouped, dilated
            ("relu2", nn.ReLU()),
            ("pool1", nn.MaxPool2d(3, stride: 2, padding: 1, ceil_mode: true)),                      // 14x15 → 7x8
            ("conv3", nn.Conv2d(8, 8, 2, padding: Padding.Same)),                                       // even kernel: PyTorch pads the end
            ("pool2", nn.AvgPool2d(3, stride: 2, padding: 1, count_include_pad: true)),               // 7x8 → 4x4
            ("pool3", nn.AvgPool2d(2, stride: 1, padding: 1, count_include_pad: false)),              // 4x4 → 5x5
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("output", nn.Linear(8, c.OutputSize))));
        CheckParity(name, new[] { 1, 28, 28 });
    }

    [Fact]
    public void Conv1d_BatchNorm1d_Pooling1d_LinearOverTheLastAxis_AndFlattenRanges()
    {
        // 28 channels of 28 steps (the image's rows as channels)
        var name = Register("conv1d", c => nn.Sequential(
            ("conv1", nn.Conv1d(28, 16, 3, padding: 1)),
            ("norm1", nn.BatchNorm1d(16)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool1d(2)),                                       // 28 → 14
            ("conv2", nn.Conv1d(16, 16, 3, dilation: 2, padding: Padding.Same, groups: 4)),
            ("elu", nn.ELU()),
            ("pool2", nn.AvgPool1d(2)),                                       // 14 → 7
            ("steps", nn.Linear(7, 5)),                                       // over the last axis: [B, 16, 5]
            ("flatten", nn.Flatten()),
            ("output", nn.Linear(80, c.OutputSize))));
        CheckParity(name, new[] { 28, 28 });

        var ranges = Register("flatten-ranges", c => nn.Sequential(
            ("conv", nn.Conv2d(1, 6, 3, stride: 2)),                          // [B, 6, 13, 13]
            ("spatial", nn.Flatten(2)),                                       // [B, 6, 169]
            ("gap", nn.AdaptiveAvgPool1d(1)),                                 // [B, 6, 1]
            ("flatten", nn.Flatten(1, 2)),                                    // [B, 6]
            ("output", nn.Linear(6, c.OutputSize))));
        CheckParity(ranges, new[] { 1, 28, 28 });
    }

    [Fact]
    public void BinaryAndRegressionHeads()
    {
        var name = Register("one-output", c => nn.Sequential(
            ("conv", nn.Conv2d(1, 8, 3, padding: 1)), ("norm", nn.BatchNorm2d(8)), ("tanh", nn.Tanh()), ("pool", nn.MaxPool2d(4)),
            ("flatten", nn.Flatten()), ("output", nn.Linear(8 * 7 * 7, c.OutputSize))));
        CheckParity(name, new[] { 1, 28, 28 }, PredictionKind.BinaryClassification);
        CheckParity(name, new[] { 1, 28, 28 }, PredictionKind.Regression);
        // one value per row as [B]: Flatten(0) of [B, 1]
        CheckParity(TestModules.FlatOutput, new[] { 784 }, PredictionKind.BinaryClassification);
    }

    [Fact]
    public void ARowWithANaN_ScoresNaN_InTheExportedGraph()
    {
        var ml = new MLContext(seed: 1);
        var (_, model) = Train(ml, PredictionKind.MulticlassClassification, TestModules.SequentialCnn, new[] { 1, 28, 28 });
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        var rows = TestFeatures(2);
        rows[1] = (float[])rows[1].Clone();
        rows[1][100] = float.NaN;
        var scores = RunOnnx(stream.ToArray(), rows, 2)["Score"].Cast<float>().ToArray();
        Assert.All(scores.Take(10), v => Assert.True(float.IsFinite(v)));
        Assert.All(scores.Skip(10), v => Assert.True(float.IsNaN(v))); // max pooling alone could hide a NaN pixel
    }

    [Fact]
    public void LogSoftmaxOutput_TrainsAndExports()
    {
        // log-probabilities as "logits": cross-entropy's own log-softmax leaves them unchanged, and Score is their softmax
        var name = Register("log-softmax", c => nn.Sequential(
            ("flatten", nn.Flatten()), ("hidden", nn.Linear(784, 32)), ("gelu", nn.GELU()), ("output", nn.Linear(32, c.OutputSize)), ("log_softmax", nn.LogSoftmax(1))));
        CheckParity(name, new[] { 784 });
    }

    [Fact]
    public void MLNetModelZip_SaveAndLoad_ScoresLikeTheTrainedPipeline()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.TrainView(ml, 256);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.CustomModule(TestModules.SequentialCnn, new[] { 1, 28, 28 }, epochs: 1, batchSize: 32))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(train);
        var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-custom-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(pipeline, train.Schema, path);
            var fresh = new MLContext(seed: 2);
            var loaded = fresh.Model.Load(path, out _);
            var test = TestData.TestView(ml, 200);
            var expected = pipeline.Transform(test);
            var actual = loaded.Transform(test);
            Assert.Equal(expected.GetColumn<string>("PredictedLabel"), actual.GetColumn<string>("PredictedLabel"));
            var a = expected.GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
            var b = actual.GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
            Assert.Equal(a.Length, b.Length);
            double diff = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
            _out.WriteLine($"max abs Score diff after Model.Save/Load: {diff:G3}");
            Assert.True(diff <= Tight, $"max abs diff {diff}");
            Assert.Throws<InvalidOperationException>(() => loaded.GetDeepTransformer()); // ONNX Runtime scores it, not TorchSharp
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A user-written block inside a Sequential: the exporter can't know its forward.</summary>
    private sealed class Doubler : nn.Module<Tensor, Tensor>
    {
        public Doubler() : base(nameof(Doubler)) => RegisterComponents();
        public override Tensor forward(Tensor x) => x * 2;
    }

    /// <summary>A user-written block an emitter is registered for (the way an imported network plugs into the walker).</summary>
    private sealed class Tripler : nn.Module<Tensor, Tensor>
    {
        public Tripler() : base(nameof(Tripler)) => RegisterComponents();
        public override Tensor forward(Tensor x) => x * 3;
    }

    [Fact]
    public void ARegisteredEmitter_ExportsAModuleTypeTheWalkerDoesNotKnow()
    {
        ModuleOnnx.RegisterEmitter<Tripler>((ctx, module, path, x) => ctx.Graph.Node("Mul", new[] { x, ctx.Graph.FloatConstant("three", 3f) }, "tripled"));
        var name = Register("plugged", c => nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3, stride: 2)), ("triple", new Tripler()), ("relu", nn.ReLU()), ("flatten", nn.Flatten()), ("output", nn.Linear(4 * 13 * 13, c.OutputSize))));
        CheckParity(name, new[] { 1, 28, 28 });
    }

    [Fact]
    public void Unexportable_ModulesAndOptions_AreRefusedNamingThePathAndType()
    {
        string Refused(string name, Func<CustomModuleContext, nn.Module<Tensor, Tensor>> build)
        {
            var ml = new MLContext(seed: 1);
            var (_, model) = Train(ml, PredictionKind.MulticlassClassification, Register(name, build), new[] { 1, 28, 28 });
            var e = Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(new MemoryStream()));
            _out.WriteLine(e.Message);
            return e.Message;
        }
        Assert.Contains("module 'module.scale' (Doubler)", Refused("user-block", c => nn.Sequential(
            ("flatten", nn.Flatten()), ("scale", new Doubler()), ("output", nn.Linear(784, c.OutputSize)))));
        Assert.Contains("pads with Reflect", Refused("reflect", c => nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3, padding: 1, padding_mode: PaddingModes.Reflect)), ("flatten", nn.Flatten()), ("output", nn.Linear(4 * 28 * 28, c.OutputSize)))));
        Assert.Contains("output size of 1 only", Refused("adaptive-2", c => nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3)), ("pool", nn.AdaptiveAvgPool2d(2)), ("flatten", nn.Flatten()), ("output", nn.Linear(16, c.OutputSize)))));
    }
}
