using System.Text.Json;
using Microsoft.ML.Runtime;
using MLNetDeep.Persistence;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Custom;

/// <summary>
/// Trains a user-written TorchSharp module (registered with <see cref="CustomModules"/>) on a fixed-size numeric vector
/// column reshaped to <see cref="CustomModuleOptions.InputShape"/>, with the whole training engine. Created through
/// <c>mlContext.{MulticlassClassification,BinaryClassification,Regression}.Trainers.CustomModule(...)</c>.
/// </summary>
public sealed class CustomModuleTrainer : DeepTrainer<CustomModuleOptions>
{
    internal CustomModuleTrainer(IHostEnvironment? env, CustomModuleOptions options, PredictionKind kind) : base(env, options, kind)
    {
        if (kind == PredictionKind.SequenceTagging)
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Custom modules train multiclass, binary and regression models. Received: SequenceTagging.");
    }

    /// <summary>Creates a trainer without an MLContext (no log lines; the epoch callback still runs).</summary>
    public CustomModuleTrainer(CustomModuleOptions options, PredictionKind kind) : this(null, options, kind) { }

    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture()
    {
        if (string.IsNullOrWhiteSpace(Options.ModuleName))
            throw new ArgumentException(
                "CustomModuleOptions.ModuleName must name a registered module: call CustomModules.Register(\"my-module\", context => new MyModule(...)) " +
                "and set ModuleName = \"my-module\". Received: an empty name.", nameof(CustomModuleOptions.ModuleName));
        if (Options.InputShape is null || Options.InputShape.Length == 0)
            throw new ArgumentNullException(nameof(CustomModuleOptions.InputShape),
                "CustomModuleOptions.InputShape must give one row's shape without the batch dimension, e.g. new[] { 1, 28, 28 } for 28x28 grey images " +
                "or new[] { 784 } for flat vectors.");
        if (Options.Pretraining is not null)
            throw new ArgumentException(
                "Pretraining trains MLNetDeep's dense heads layer by layer; a custom module has none. Remove CustomModuleOptions.Pretraining.",
                nameof(TrainerOptions.Pretraining));
        var registration = CustomModules.Get(Options.ModuleName, loading: false);
        JsonElement? moduleOptions = null;
        if (Options.ModuleOptions is { } given)
        {
            if (registration.OptionsType is null)
                throw new ArgumentException(
                    $"Custom module '{Options.ModuleName}' is registered without an options type, but ModuleOptions is a {given.GetType().Name}. " +
                    $"Register it with CustomModules.Register<{given.GetType().Name}>(\"{Options.ModuleName}\", (context, options) => ...) or leave ModuleOptions null.",
                    nameof(CustomModuleOptions.ModuleOptions));
            if (given.GetType() != registration.OptionsType)
                throw new ArgumentException(
                    $"Custom module '{Options.ModuleName}' takes options of type {registration.OptionsType.Name}, but ModuleOptions is a {given.GetType().Name}. " +
                    $"Set ModuleOptions = new {registration.OptionsType.Name} {{ ... }}.", nameof(CustomModuleOptions.ModuleOptions));
            try
            {
                moduleOptions = registration.SerializeOptions!(given);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException)
            {
                throw new ArgumentException(
                    $"ModuleOptions ({given.GetType().Name}) can't be saved as JSON: {e.Message} Use public properties of plain types (numbers, text, lists, nested classes).",
                    nameof(CustomModuleOptions.ModuleOptions), e);
            }
        }
        // Copies: the architecture saved with the model never aliases the user's option objects.
        return new CustomArchitecture
        {
            ModuleName = Options.ModuleName,
            InputShape = Options.InputShape.ToArray(),
            Kind = Kind,
            ModuleOptions = moduleOptions,
        };
    }
}
