using MLNetDeep.Activations;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Dense;

/// <summary>
/// Options of the dense (MLP) trainers (multiclass, binary, regression) for a known-size numeric feature vector:
/// the hidden layers, activation, batch norm, dropout and skip connections, and every shared training option
/// (optimizer, schedule, initializer, regularisation, early stopping, checkpoints, pretraining, …).
/// </summary>
public sealed class MlpOptions : TrainerOptions
{
    /// <summary>The name messages use for these options.</summary>
    internal const string Name = "MlpOptions";

    /// <summary>Units of each hidden layer, input side first. Empty = a linear model (softmax / logistic / linear regression). Default [128, 128].</summary>
    public List<int> HiddenSizes { get; set; } = new() { 128, 128 };

    /// <summary>The hidden layers' activation. Default ReLU.</summary>
    public Activation Activation { get; set; } = new Relu();

    /// <summary>Dropout after each hidden layer (after its activation and batch norm). Default 0.1.</summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>Dropout on the feature vector itself. Default 0.</summary>
    public double InputDropout { get; set; }

    /// <summary>Batch norm in every hidden layer. Default false.</summary>
    public bool BatchNorm { get; set; }

    /// <summary>Where batch norm goes relative to the activation (with <see cref="BatchNorm"/>). Default before it.</summary>
    public BatchNormPlacement BatchNormPlacement { get; set; } = BatchNormPlacement.BeforeActivation;

    /// <summary>
    /// Skip connections between consecutive hidden layers of equal width: such a layer computes
    /// y = x + Dropout(Act(BN(Linear(x)))) (batch norm where <see cref="BatchNormPlacement"/> puts it, no activation after the
    /// sum). The first hidden layer (it changes the width from the features') and the output layer have none. Default false.
    /// </summary>
    public bool Residual { get; set; }

    /// <summary>A copy of these options (nested option objects shared, the callback list copied); the original is not changed.</summary>
    public MlpOptions Clone()
    {
        var copy = (MlpOptions)CopyOptions();
        copy.HiddenSizes = HiddenSizes is null ? null! : new List<int>(HiddenSizes);
        return copy;
    }

    /// <summary>The dense stack these options describe (a new object; the caller may keep it).</summary>
    internal DenseHead ToStack() => new()
    {
        HiddenSizes = HiddenSizes is null ? null! : new List<int>(HiddenSizes),
        Activation = Activation,
        Dropout = Dropout,
        InputDropout = InputDropout,
        BatchNorm = BatchNorm,
        BatchNormPlacement = BatchNormPlacement,
        Residual = Residual,
    };
}
