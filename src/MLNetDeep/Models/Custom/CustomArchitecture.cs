using System.Text.Json;
using MLNetDeep.Data;
using MLNetDeep.Initializers;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Custom;

/// <summary>
/// The saved description of a network built by a registered custom module: the registered name, the input shape, the
/// task and the module's options (as JSON). Loading a model rebuilds the module through <see cref="CustomModules"/>.
/// </summary>
public sealed class CustomArchitecture : NetworkArchitecture
{
    /// <summary>The registered module name.</summary>
    public string ModuleName { get; init; } = "";

    /// <summary>Per-row input shape (without the batch dimension).</summary>
    public int[] InputShape { get; init; } = Array.Empty<int>();

    /// <summary>The task the module was built for (it decides the output shape the module must return).</summary>
    public PredictionKind Kind { get; init; }

    /// <summary>The module's own options as JSON (null when its factory takes none).</summary>
    public JsonElement? ModuleOptions { get; init; }

    /// <inheritdoc />
    public override FeatureLayout Layout => new FixedShapeLayout
    {
        Shape = InputShape.Select(d => (long)d).ToArray(),
        ShapeDescription = $"custom module '{ModuleName}' input shape",
    };

    /// <inheritdoc />
    public override void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModuleName))
            throw new ArgumentException("ModuleName must name a registered custom module (CustomModules.Register). Received: an empty name.", nameof(ModuleName));
        if (InputShape is null || InputShape.Length == 0)
            throw new ArgumentException("InputShape must give the shape of one row without the batch dimension, e.g. new[] { 1, 28, 28 }. Received: an empty shape.", nameof(InputShape));
        if (Kind is not (PredictionKind.MulticlassClassification or PredictionKind.BinaryClassification or PredictionKind.Regression))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"Custom modules train multiclass, binary and regression models. Received: Kind={Kind}");
        if (InputShape.Any(d => d <= 0))
            throw new ArgumentOutOfRangeException(nameof(InputShape), $"[{string.Join(", ", InputShape)}]",
                $"InputShape dimensions must be > 0. Received: InputShape=[{string.Join(", ", InputShape)}]");
    }

    /// <summary>
    /// Builds the registered module (inside the caller's random stream, so the same seed gives the same weights), applies
    /// <paramref name="initializer"/> to its Linear and convolution layers when set, and checks once that it maps
    /// [B, ...InputShape] to the task's output.
    /// </summary>
    /// <remarks>The trainer checks the name before training, so an unregistered name here means a saved model is being loaded:
    /// the error says which name to register.</remarks>
    public override DeepNetwork Build(int outputSize, Initializer? initializer) => new CustomNetwork(this, outputSize, initializer);

    /// <summary>The context the factory receives.</summary>
    internal CustomModuleContext Context(int outputSize) => new(ModuleName, InputShape.ToArray(), outputSize, Kind);
}
