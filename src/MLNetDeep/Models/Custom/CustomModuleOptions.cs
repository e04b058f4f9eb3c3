using System.Text.Json.Serialization;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Custom;

/// <summary>
/// Options of the custom-module trainers (multiclass, binary, regression): which registered module to train
/// (<see cref="ModuleName"/>, see <see cref="CustomModules"/>), the shape each row's feature vector is reshaped to
/// (<see cref="InputShape"/>), the module's own options, and every shared training option (optimizer, schedule,
/// regularisation, early stopping, diagnostics, checkpoints, validation, warm start, ...).
/// </summary>
public sealed class CustomModuleOptions : TrainerOptions
{
    /// <summary>The name the module's factory is registered under (<see cref="CustomModules.Register(string, Func{CustomModuleContext, TorchSharp.torch.nn.Module{TorchSharp.torch.Tensor, TorchSharp.torch.Tensor}})"/>). Required.</summary>
    public string? ModuleName { get; set; }

    /// <summary>
    /// The shape one row is reshaped to before the module sees it, without the batch dimension: e.g. [1, 28, 28] for
    /// Fashion-MNIST images (the module receives [B, 1, 28, 28]), [784] for flat vectors, [28, 28] for 28 steps of 28
    /// values for a Conv1d. Its product must equal the feature column's size (row-major, as ExtractPixels writes images). Required.
    /// </summary>
    public int[]? InputShape { get; set; }

    /// <summary>
    /// The module's own options: an object of the type the factory was registered with
    /// (<see cref="CustomModules.Register{TModuleOptions}"/>), serialisable with System.Text.Json. Saved with the model and
    /// handed (as a copy) to the factory when training and loading. Null = the type's defaults (or none for a factory without options).
    /// </summary>
    [JsonIgnore] public object? ModuleOptions { get; set; }
}
