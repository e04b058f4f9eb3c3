using MLNetDeep.Optimizers;
using MLNetDeep.Tasks;
using TorchSharp;
using TorchSharp.Modules;

namespace MLNetDeep.Training;

/// <summary>What a callback can see and steer during one training run. One context per <c>Fit</c>.</summary>
public sealed class TrainingContext
{
    private readonly Action<string>? _info, _warning;

    internal TrainingContext(torch.nn.Module network, TrainingHistory history, TrainerOptions options, PredictionKind kind,
        IParameterUpdater updater, IReadOnlyList<Parameter> parameters, IReadOnlyList<Parameter> weights, TrainingRandom random,
        int seed, long stepsPerEpoch, Action<string>? info, Action<string>? warning)
    {
        Network = network;
        History = history;
        Options = options;
        Kind = kind;
        Updater = updater;
        Parameters = parameters;
        Weights = weights;
        Random = random;
        Seed = seed;
        StepsPerEpoch = stepsPerEpoch;
        _info = info;
        _warning = warning;
    }

    /// <summary>The network being trained.</summary>
    public torch.nn.Module Network { get; }
    /// <summary>The history so far.</summary>
    public TrainingHistory History { get; }
    /// <summary>The options of this run (read them; training never changes them).</summary>
    public TrainerOptions Options { get; }
    /// <summary>What the model predicts (decides which metrics exist and their direction).</summary>
    public PredictionKind Kind { get; }
    /// <summary>The optimizer's per-run updater (the schedule component sets its learning rate before every batch).</summary>
    public IParameterUpdater Updater { get; }
    /// <summary>The seed this run uses (the options' Seed, else the MLContext's).</summary>
    public int Seed { get; }
    /// <summary>Epochs planned.</summary>
    public int Epochs => Options.Epochs;
    /// <summary>Batches per epoch.</summary>
    public long StepsPerEpoch { get; }
    /// <summary>Current 1-based epoch.</summary>
    public int Epoch { get; internal set; }
    /// <summary>Global batch index (0-based) of the step in progress.</summary>
    public long GlobalStep { get; internal set; }
    /// <summary>Learning rate of the step in progress (set by the schedule component before every batch).</summary>
    public double LearningRate { get; set; }
    /// <summary>Global gradient norm of the step in progress before clipping (set only when clipping by norm is on).</summary>
    public double? GradientNorm { get; set; }
    /// <summary>Set to true to stop after the current epoch (or call <see cref="Stop"/> with a reason).</summary>
    public bool StopTraining { get; set; }
    /// <summary>Why training was stopped (recorded in the history).</summary>
    public string? StopReason { get; set; }
    /// <summary>Why the run diverged (loss not finite or exploding), once it has; the loop then ends the run.</summary>
    public string? Divergence { get; private set; }

    /// <summary>Ends training after the current epoch, recording <paramref name="reason"/> in the history.</summary>
    public void Stop(string reason)
    {
        StopTraining = true;
        StopReason = reason;
    }

    /// <summary>
    /// Ends training at once, in the middle of an epoch (the epoch is not summarised or validated), recording
    /// <paramref name="reason"/>; the run returns its model normally. For components that measure something over a number of
    /// batches (the learning-rate range test).
    /// </summary>
    public void StopNow(string reason)
    {
        Stop(reason);
        StoppedNow = true;
    }

    /// <summary>True once <see cref="StopNow"/> was called.</summary>
    internal bool StoppedNow { get; private set; }

    /// <summary>Marks the run as diverged: the loop stops at once and the divergence guard restores or throws.</summary>
    public void Diverge(string reason) => Divergence ??= reason;

    /// <summary>Writes an information line to the MLContext's log.</summary>
    public void Log(string message) => _info?.Invoke(message);

    /// <summary>Writes a warning to the MLContext's log.</summary>
    public void Warn(string message) => _warning?.Invoke(message);

    /// <summary>The trainable parameters (frozen ones excluded).</summary>
    internal IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>The trainable weight matrices and kernels (what L1, L2, decay and max-norm act on; biases and norms excluded).</summary>
    internal IReadOnlyList<Parameter> Weights { get; }
    /// <summary>This run's stream of torch random numbers.</summary>
    internal TrainingRandom Random { get; }
    /// <summary>The first epoch to run (after a resume, the one after the checkpoint's).</summary>
    internal int StartEpoch { get; set; } = 1;
}
