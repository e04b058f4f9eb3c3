using System.Text.Json.Serialization;
using TorchSharp.Modules;

namespace MLNetDeep.Optimizers;

/// <summary>
/// How parameters are updated from their gradients. Subclasses are typed options with Keras-like
/// names and defaults (e.g. <see cref="Sgd"/>, <see cref="Adam"/>); the trainer calls
/// <see cref="CreateUpdater"/> once per training run, so the options object itself never changes.
/// </summary>
/// <remarks>
/// Weight decay is named for how it is applied. <c>CoupledWeightDecay</c> (most optimizers) adds λ·w to
/// the gradient before the update rule, so adaptive optimizers rescale it like any gradient (the classic
/// L2 penalty). <see cref="AdamW.DecoupledWeightDecay"/> shrinks the weights directly, w ← w − lr·λ·w,
/// outside the adaptive rescaling (Loshchilov &amp; Hutter, 2019). Both apply to every trainable tensor the
/// optimizer gets, biases included; <c>TrainerOptions.Regularization.L2</c> is a coupled penalty on weights only.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(Sgd), "sgd")]
[JsonDerivedType(typeof(Adagrad), "adagrad")]
[JsonDerivedType(typeof(Adadelta), "adadelta")]
[JsonDerivedType(typeof(RmsProp), "rmsprop")]
[JsonDerivedType(typeof(Adam), "adam")]
[JsonDerivedType(typeof(AdamW), "adamw")]
[JsonDerivedType(typeof(Adamax), "adamax")]
[JsonDerivedType(typeof(Nadam), "nadam")]
[JsonDerivedType(typeof(Ftrl), "ftrl")]
[JsonDerivedType(typeof(Lbfgs), "lbfgs")]
public abstract class Optimizer
{
    /// <summary>Initial learning rate (a schedule, when given, scales from it).</summary>
    public double LearningRate { get; init; } = 0.001;

    /// <summary>Lower-case registry name.</summary>
    [JsonIgnore]
    public abstract string Name { get; }

    /// <summary>Checks the options; throws naming the option, the value received and the allowed range.</summary>
    public virtual void Validate()
    {
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate,
                $"{GetType().Name}.LearningRate must be a finite number > 0. Received: LearningRate={LearningRate}");
    }

    /// <summary>Builds the stateful updater for these parameter groups (one per learning-rate multiplier).</summary>
    public abstract IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups);

    /// <summary>Throws unless <paramref name="value"/> lies in the given range.</summary>
    protected void Require(bool ok, string option, double value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(option, value, $"{GetType().Name}.{option} {rule}. Received: {option}={value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    /// <summary>Checks a coupled or decoupled weight-decay factor (finite, ≥ 0).</summary>
    protected void RequireWeightDecay(double value, string option) =>
        Require(value >= 0 && !double.IsInfinity(value), option, value, "must be a finite number >= 0 (0 disables weight decay)");

    /// <inheritdoc />
    public override string ToString() => $"{Name}(lr={LearningRate:G4})";
}

/// <summary>A set of parameters that share a learning-rate multiplier (transfer learning uses a lower one for the body).</summary>
public sealed class ParameterGroup
{
    /// <summary>Creates a group.</summary>
    public ParameterGroup(string name, IReadOnlyList<Parameter> parameters, double learningRateMultiplier = 1.0)
    {
        Name = name;
        Parameters = parameters;
        LearningRateMultiplier = learningRateMultiplier;
    }

    /// <summary>Group name (e.g. "body", "head").</summary>
    public string Name { get; }
    /// <summary>The trainable parameters.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>Multiplies the scheduled learning rate for this group.</summary>
    public double LearningRateMultiplier { get; }
}

/// <summary>
/// The stateful object that performs parameter updates during one training run. It owns its state (moments, step
/// counts, curvature pairs) and writes it for checkpoints with <see cref="SaveState"/>, so a resumed run updates
/// exactly as an uninterrupted one.
/// </summary>
public interface IParameterUpdater : IDisposable
{
    /// <summary>Clears gradients.</summary>
    void ZeroGrad();
    /// <summary>Applies one update from the current gradients.</summary>
    void Step();
    /// <summary>
    /// Applies one update; methods that evaluate the loss several times per step (L-BFGS with a line search) call
    /// <paramref name="closure"/>, which zeroes the gradients, recomputes the batch loss and its gradients and returns
    /// the loss. The training loop always calls this overload; the default ignores the closure and calls <see cref="Step()"/>.
    /// </summary>
    void Step(Func<double> closure) => Step();
    /// <summary>Sets the base learning rate (each group gets rate × its multiplier).</summary>
    void SetLearningRate(double rate);
    /// <summary>Writes the updater's state (for checkpoints).</summary>
    void SaveState(BinaryWriter writer);
    /// <summary>Reads back what <see cref="SaveState"/> wrote, into an updater built for the same parameters.</summary>
    void LoadState(BinaryReader reader);
}

/// <summary>
/// Adapts TorchSharp optimizers: one torch optimizer per parameter group, so each group can have its own
/// rate (all wrapped optimizers update each parameter independently, so this equals torch's param groups).
/// </summary>
public sealed class TorchOptimizerUpdater : IParameterUpdater
{
    private readonly (TorchSharp.torch.optim.Optimizer Optimizer, double Multiplier)[] _parts;

    /// <summary>Wraps one torch optimizer per group, created by <paramref name="factory"/>.</summary>
    public TorchOptimizerUpdater(IReadOnlyList<ParameterGroup> groups,
        Func<IReadOnlyList<Parameter>, TorchSharp.torch.optim.Optimizer> factory)
    {
        _parts = groups.Where(g => g.Parameters.Count > 0).Select(g => (factory(g.Parameters), g.LearningRateMultiplier)).ToArray();
    }

    /// <inheritdoc />
    public void ZeroGrad() { foreach (var p in _parts) p.Optimizer.zero_grad(); }

    /// <inheritdoc />
    public void Step() { foreach (var p in _parts) p.Optimizer.step(); }

    /// <inheritdoc />
    public void SetLearningRate(double rate)
    {
        foreach (var (opt, mult) in _parts)
            foreach (var g in opt.ParamGroups) g.LearningRate = rate * mult;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        writer.Write(_parts.Length);
        foreach (var (opt, _) in _parts) ((TorchSharp.Modules.OptimizerHelper)opt).save_state_dict(writer);
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        int n = reader.ReadInt32();
        if (n != _parts.Length)
            throw new InvalidDataException($"The saved optimizer state holds {n} parameter groups but this run has {_parts.Length}; use the options of the interrupted run.");
        foreach (var (opt, _) in _parts) ((TorchSharp.Modules.OptimizerHelper)opt).load_state_dict(reader);
    }

    /// <inheritdoc />
    public void Dispose() { foreach (var p in _parts) p.Optimizer.Dispose(); }
}
