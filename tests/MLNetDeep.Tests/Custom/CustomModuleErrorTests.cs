using Microsoft.ML;
using MLNetDeep.Models.Custom;
using MLNetDeep.Pretraining;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Onnx;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Custom;

/// <summary>Bad registrations, names, shapes and options get clear errors naming the module, the value received and the fix.</summary>
public sealed class CustomModuleErrorTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<IDataView> Train = new(() => ControlKit.Data(Ml, 200, 10).Train);
    private readonly ITestOutputHelper _out;

    public CustomModuleErrorTests(ITestOutputHelper output)
    {
        _out = output;
        TestModules.EnsureRegistered();
    }

    private static CustomModuleOptions Options(string name, params int[] shape) => new()
    {
        ModuleName = name, InputShape = shape.Length == 0 ? new[] { 1, 28, 28 } : shape, Epochs = 1, Seed = 1,
    };

    private T Throws<T>(Action act) where T : Exception
    {
        var e = Assert.Throws<T>(act);
        _out.WriteLine(e.Message);
        return e;
    }

    private static void Fit(CustomModuleOptions o, PredictionKind kind = PredictionKind.MulticlassClassification, IDataView? data = null) =>
        new CustomModuleTrainer(o, kind).Fit(data ?? Train.Value).Dispose();

    [Fact]
    public void UnregisteredName_AtFit_SaysWhatToRegister()
    {
        var e = Throws<InvalidOperationException>(() => Fit(Options("tests.nobody")));
        Assert.Contains("'tests.nobody'", e.Message);
        Assert.Contains("CustomModules.Register(\"tests.nobody\"", e.Message);
        Assert.Contains(TestModules.UserCnn, e.Message); // lists what is registered
    }

    [Fact]
    public void UnregisteredName_AtLoad_SaysWhatToRegister()
    {
        const string name = "tests.registered-then-removed";
        CustomModules.Register(name, c => TestModules.MlpModule(c.InputSize, 8, 0, c.OutputSize));
        using var stream = new MemoryStream();
        try
        {
            using var model = new CustomModuleTrainer(Options(name, 784), PredictionKind.MulticlassClassification).Fit(Train.Value);
            model.Save(stream);
        }
        finally
        {
            Assert.True(CustomModules.Unregister(name));
        }
        stream.Position = 0;
        var e = Throws<InvalidOperationException>(() => DeepTransformer.Load(stream));
        Assert.Contains($"custom module '{name}', which is not registered", e.Message);
        Assert.Contains($"CustomModules.Register(\"{name}\"", e.Message);
    }

    [Fact]
    public void WrongOutputSize_Multiclass_NamesTheShapeAndTheClassCount()
    {
        var e = Throws<ArgumentException>(() => Fit(Options(TestModules.SevenOutputs)));
        Assert.Contains($"Your module '{TestModules.SevenOutputs}' returns [B, 7]", e.Message);
        Assert.Contains("the label has 10 classes", e.Message);
        Assert.Contains("CustomModuleContext.OutputSize", e.Message);
    }

    [Fact]
    public void WrongOutputSize_Binary_AsksForOneMarginPerRow()
    {
        var ml = new MLContext(seed: 1);
        var data = OnnxTestSupport.TrainView(ml, PredictionKind.BinaryClassification, 100);
        var e = Throws<ArgumentException>(() => Fit(Options(TestModules.SevenOutputs), PredictionKind.BinaryClassification, data));
        Assert.Contains("returns [B, 7]", e.Message);
        Assert.Contains("[B, 1] or [B]", e.Message);
    }

    [Fact]
    public void InputShape_ThatDoesNotMatchTheColumn_NamesTheColumnAndSizes()
    {
        var e = Throws<ArgumentException>(() => Fit(Options(TestModules.UserCnn, 1, 32, 32)));
        Assert.Contains("'Features' has 784 values per row", e.Message);
        Assert.Contains("1 x 32 x 32", e.Message);
    }

    [Fact]
    public void InputShape_TheModuleCannotTake_IsReportedWithoutTheNativeTrace()
    {
        // 784 values match the column, but the module starts with a Conv2d that needs [B, 1, 28, 28]
        var e = Throws<ArgumentException>(() => Fit(Options(TestModules.NeedsImages, 784)));
        Assert.Contains($"Custom module '{TestModules.NeedsImages}' fails on its declared input [B, 784]", e.Message);
        Assert.Contains("Set InputShape", e.Message);
        Assert.DoesNotContain("Exception raised from", e.Message); // LibTorch's C++ trace stays in the inner exception
    }

    [Fact]
    public void MissingNameOrShape_AndPretraining_AreRefusedBeforeTraining()
    {
        Assert.Contains("ModuleName must name a registered module", Throws<ArgumentException>(() => Fit(new CustomModuleOptions { InputShape = new[] { 784 } })).Message);
        Assert.Contains("InputShape must give one row's shape", Throws<ArgumentNullException>(() => Fit(new CustomModuleOptions { ModuleName = TestModules.UserCnn })).Message);
        Assert.Contains("Received: InputShape=[1, 0, 28]", Throws<ArgumentOutOfRangeException>(() => Fit(Options(TestModules.UserCnn, 1, 0, 28))).Message);
        var pre = Options(TestModules.Mlp, 784);
        pre.Pretraining = new PretrainingOptions();
        Assert.Contains("Remove CustomModuleOptions.Pretraining", Throws<ArgumentException>(() => Fit(pre)).Message);
    }

    [Fact]
    public void ModuleOptions_OfTheWrongType_OrForAModuleWithout_AreRefused()
    {
        var wrong = Options(TestModules.Mlp, 784);
        wrong.ModuleOptions = new Uri("http://example.org");
        var e = Throws<ArgumentException>(() => Fit(wrong));
        Assert.Contains("takes options of type MlpOptions, but ModuleOptions is a Uri", e.Message);
        var none = Options(TestModules.UserCnn);
        none.ModuleOptions = new MlpOptions();
        Assert.Contains("is registered without an options type", Throws<ArgumentException>(() => Fit(none)).Message);
    }

    [Fact]
    public void Register_RefusesAnotherFactoryUnderATakenName_AndBadNames_ButAcceptsTheSameFactoryAgain()
    {
        var e = Throws<ArgumentException>(() => CustomModules.Register(TestModules.UserCnn, c => new SmallCnn(3)));
        Assert.Contains($"'{TestModules.UserCnn}' is already registered with another factory", e.Message);
        Assert.Contains("CustomModules.Unregister", e.Message);

        Func<CustomModuleContext, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>> factory = c => new SmallCnn(c.OutputSize);
        CustomModules.Register("tests.twice", factory);
        CustomModules.Register("tests.twice", factory); // start-up code run twice: harmless
        Assert.True(CustomModules.Unregister("tests.twice"));
        Assert.False(CustomModules.IsRegistered("tests.twice"));

        Assert.Contains("Received: \"my module\"", Throws<ArgumentException>(() => CustomModules.Register("my module", factory)).Message);
        Assert.Contains("Received: an empty name", Throws<ArgumentException>(() => CustomModules.Register(" ", factory)).Message);
    }

    [Fact]
    public void AFactoryReturningTheSameInstanceTwice_IsRefused()
    {
        var shared = TestModules.MlpModule(784, 8, 0, 10);
        CustomModules.Register("tests.singleton", _ => shared);
        try
        {
            using var first = new CustomModuleTrainer(Options("tests.singleton", 784), PredictionKind.MulticlassClassification).Fit(Train.Value);
            var e = Throws<InvalidOperationException>(() => Fit(Options("tests.singleton", 784)));
            Assert.Contains("returned a module it had returned before", e.Message);
        }
        finally
        {
            CustomModules.Unregister("tests.singleton");
        }
    }

    [Fact]
    public void Register_IsThreadSafe()
    {
        var names = Enumerable.Range(0, 64).Select(i => $"tests.parallel-{i}").ToArray();
        Parallel.ForEach(names, n => CustomModules.Register(n, c => TorchSharp.torch.nn.Linear(c.InputSize, c.OutputSize)));
        Assert.All(names, n => Assert.True(CustomModules.IsRegistered(n)));
        Parallel.ForEach(names, n => Assert.True(CustomModules.Unregister(n)));
        Assert.DoesNotContain(CustomModules.Names, n => n.StartsWith("tests.parallel-"));
    }
}
