using MLNetDeep.Models.Custom;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Tests.Custom;

/// <summary>
/// A user-written CNN, as a user would write it: a class deriving Module&lt;Tensor, Tensor&gt; with typed fields in call
/// order and its own forward (conv → BN → ReLU → pool, conv → ReLU → pool, dropout, linear).
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d norm1;
    private readonly Conv2d conv2;
    private readonly Dropout dropout;
    private readonly Linear output;

    public SmallCnn(int outputs) : base(nameof(SmallCnn))
    {
        conv1 = nn.Conv2d(1, 8, 3, padding: 1);
        norm1 = nn.BatchNorm2d(8);
        conv2 = nn.Conv2d(8, 16, 3, padding: 1);
        dropout = nn.Dropout(0.2);
        output = nn.Linear(16 * 7 * 7, outputs);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(norm1.call(conv1.call(x))), 2); // [B, 8, 14, 14]
        h = F.max_pool2d(F.relu(conv2.call(h)), 2);                  // [B, 16, 7, 7]
        var y = output.call(dropout.call(h.flatten(1)));             // [B, outputs]
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>The module options of the test MLP (saved with the model, handed back to the factory on load).</summary>
public sealed class MlpOptions
{
    public int Hidden { get; set; } = 32;
    public double Dropout { get; set; }
}

/// <summary>The test registrations (registered once per test run; registering the same factory again is a no-op).</summary>
internal static class TestModules
{
    /// <summary>The user-written class above.</summary>
    public const string UserCnn = "tests.user-cnn";
    /// <summary>The same network as an nn.Sequential (exportable to ONNX).</summary>
    public const string SequentialCnn = "tests.sequential-cnn";
    /// <summary>An MLP configured by <see cref="MlpOptions"/>.</summary>
    public const string Mlp = "tests.mlp";
    /// <summary>An MLP returning one value per row as [B] (binary and regression).</summary>
    public const string FlatOutput = "tests.flat-output";
    /// <summary>Always 7 outputs, whatever the task needs.</summary>
    public const string SevenOutputs = "tests.seven-outputs";
    /// <summary>Expects [B, 1, 28, 28] (a Conv2d first).</summary>
    public const string NeedsImages = "tests.needs-images";

    private static readonly Lazy<bool> Done = new(() =>
    {
        CustomModules.Register(UserCnn, c => new SmallCnn(c.OutputSize));
        CustomModules.Register(SequentialCnn, c => SequentialCnnModule(c.OutputSize));
        CustomModules.Register<MlpOptions>(Mlp, (c, o) => MlpModule(c.InputSize, o.Hidden, o.Dropout, c.OutputSize));
        CustomModules.Register(FlatOutput, c => nn.Sequential(nn.Flatten(), nn.Linear(c.InputSize, 32), nn.ReLU(), nn.Linear(32, 1), nn.Flatten(0)));
        CustomModules.Register(SevenOutputs, c => nn.Sequential(nn.Flatten(), nn.Linear(c.InputSize, 7)));
        CustomModules.Register(NeedsImages, c => nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, c.OutputSize)));
        return true;
    });

    /// <summary>Registers every test module (idempotent).</summary>
    public static void EnsureRegistered() => _ = Done.Value;

    public static Sequential SequentialCnnModule(int outputs) => nn.Sequential(
        ("conv1", nn.Conv2d(1, 8, 3, padding: 1)),
        ("norm1", nn.BatchNorm2d(8)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(8, 16, 3, padding: 1)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dropout", nn.Dropout(0.2)),
        ("output", nn.Linear(16 * 7 * 7, outputs)));

    public static Sequential MlpModule(long inputs, int hidden, double dropout, int outputs) => nn.Sequential(
        ("flatten", nn.Flatten()),
        ("hidden", nn.Linear(inputs, hidden)),
        ("relu", nn.ReLU()),
        ("dropout", nn.Dropout(dropout)),
        ("output", nn.Linear(hidden, outputs)));
}
