using MLNetDeep.Checkpoints;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.EarlyStopping;

/// <summary>
/// Stop training when a monitored loss or metric has stopped improving (Keras' EarlyStopping), and optionally
/// put back the weights of the best epoch. The history records the best epoch, the epoch training stopped at and why.
/// </summary>
public sealed class EarlyStoppingOptions
{
    /// <summary>
    /// What to watch. Default <see cref="Monitored.ValidationLoss"/>; also <see cref="Monitored.TrainingLoss"/> or a validation
    /// metric, e.g. <c>Monitored.ValidationMetric("accuracy")</c>. Whether higher is better comes from the task.
    /// </summary>
    public Monitored Monitor { get; init; } = Monitored.ValidationLoss;
    /// <summary>Epochs without improvement before stopping. Default 5.</summary>
    public int Patience { get; init; } = 5;
    /// <summary>A change smaller than this does not count as an improvement. Default 0.</summary>
    public double MinDelta { get; init; }
    /// <summary>At the end of training (stopped or not), restore the weights of the best epoch. Default true.</summary>
    public bool RestoreBestWeights { get; init; } = true;

    internal void Validate(PredictionKind task, bool hasValidation)
    {
        if (Monitor is null)
            throw new ArgumentNullException(nameof(Monitor), "EarlyStopping.Monitor must be set: Monitored.ValidationLoss, Monitored.TrainingLoss or Monitored.ValidationMetric(\"accuracy\").");
        if (Patience < 0)
            throw new ArgumentOutOfRangeException(nameof(Patience), Patience, $"EarlyStopping.Patience must be >= 0. Received: Patience={Patience}");
        if (!(MinDelta >= 0) || double.IsInfinity(MinDelta))
            throw new ArgumentOutOfRangeException(nameof(MinDelta), MinDelta, $"EarlyStopping.MinDelta must be a finite number >= 0. Received: MinDelta={MinDelta}");
        Monitor.Check(task, hasValidation, "EarlyStopping.Monitor");
    }
}

/// <summary>
/// Early stopping as a component of the loop, with its per-run state (the options object is never changed): after
/// every epoch it compares the monitored figure with the best so far, keeps a copy of the best epoch's weights, and
/// stops training once <see cref="EarlyStoppingOptions.Patience"/> epochs pass without improvement; at the end it puts
/// the best weights back. Its state goes into checkpoints.
/// </summary>
internal sealed class EarlyStoppingCallback : TrainingCallback, IDisposable
{
    private readonly EarlyStoppingOptions _o;
    private readonly bool _max;
    private int _wait;
    private WeightSnapshot? _best;

    public EarlyStoppingCallback(EarlyStoppingOptions options, PredictionKind task)
    {
        _o = options;
        _max = options.Monitor.IsHigherBetter(task);
    }

    public double? BestValue { get; private set; }
    public int? BestEpoch { get; private set; }

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
    {
        double value = _o.Monitor.Read(summary) ?? throw new InvalidOperationException(
            $"EarlyStopping.Monitor = {_o.Monitor}, but epoch {summary.Epoch} has no such figure.");
        bool improved = BestValue is not double best
            || (_max ? value > best + _o.MinDelta : value < best - _o.MinDelta);
        if (improved && double.IsFinite(value))
        {
            BestValue = value;
            BestEpoch = summary.Epoch;
            _wait = 0;
            if (_o.RestoreBestWeights)
            {
                _best?.Dispose();
                _best = WeightSnapshot.Capture(context.Network);
            }
            return;
        }
        _wait++;
        if (_wait < Math.Max(1, _o.Patience) || context.StopTraining) return; // as Keras: stop after Patience epochs without improvement
        context.Stop($"early stopping after epoch {summary.Epoch}: {_o.Monitor} did not improve by more than {_o.MinDelta:G3} for {_o.Patience} epoch(s); " +
                     $"best epoch {BestEpoch} ({_o.Monitor} {BestValue:G5})");
    }

    /// <summary>Puts back the best epoch's weights (not after a divergence: the divergence guard restores then).</summary>
    public override void OnTrainEnd(TrainingContext context)
    {
        context.History.BestEpoch = BestEpoch ?? context.History.BestEpoch;
        if (context.Divergence is not null || !_o.RestoreBestWeights || _best is null) return;
        _best.Restore(context.Network);
        context.History.RestoredEpoch = BestEpoch;
        context.Log($"restored the weights of epoch {BestEpoch} (best {_o.Monitor})");
    }

    public override bool HasState => true;

    public override void SaveState(BinaryWriter writer)
    {
        writer.Write(BestValue.HasValue);
        writer.Write(BestValue ?? 0);
        writer.Write(BestEpoch ?? 0);
        writer.Write(_wait);
        writer.Write(_best is not null);
        _best?.Save(writer);
    }

    public override void LoadState(BinaryReader reader)
    {
        bool hasBest = reader.ReadBoolean();
        double best = reader.ReadDouble();
        int epoch = reader.ReadInt32();
        BestValue = hasBest ? best : null;
        BestEpoch = epoch == 0 ? null : epoch;
        _wait = reader.ReadInt32();
        _best?.Dispose();
        _best = reader.ReadBoolean() ? WeightSnapshot.Load(reader) : null;
    }

    public void Dispose() => _best?.Dispose();
}
