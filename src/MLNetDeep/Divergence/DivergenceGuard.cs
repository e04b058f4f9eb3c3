using System.Globalization;
using MLNetDeep.Regularization;
using MLNetDeep.Training;

namespace MLNetDeep.Divergence;

/// <summary>
/// Watches the loss for divergence, as a component of the loop: a batch loss that is NaN or infinite (that step is never
/// applied), or a loss that explodes while staying finite (its smoothed value far above the first batch's). Either ends
/// the run; the weights of the best epoch so far (lowest validation loss, else training loss) are put back, and per
/// <see cref="RegularizationOptions.OnNonFiniteLoss"/> the trainer throws <see cref="TrainingDivergedException"/> (with
/// that model) or returns it. A training loss that rises for several epochs in a row gets a warning in the log.
/// </summary>
internal sealed class DivergenceGuard : TrainingCallback, IDisposable
{
    /// <summary>Smoothing of the batch losses the explosion check reads (fastai's lr_find uses the same).</summary>
    private const double Beta = 0.98;
    /// <summary>Epochs of rising training loss before the warning.</summary>
    internal const int RisingEpochs = 3;

    private readonly NonFiniteLossAction _action;
    private readonly double? _factor;
    private readonly BestWeightsTracker _best = new();
    private double _firstLoss = double.NaN, _average;
    private long _batches;
    private double _lastEpochLoss = double.NaN;
    private int _rising;
    private bool _warnedRising;

    public DivergenceGuard(RegularizationOptions? options)
    {
        var o = options ?? new RegularizationOptions();
        _action = o.OnNonFiniteLoss;
        _factor = o.DivergenceFactor;
    }

    public override void OnBatchEnd(TrainingContext context, int batch, double loss)
    {
        var ci = CultureInfo.InvariantCulture;
        if (!double.IsFinite(loss))
        {
            context.Diverge(string.Format(ci,
                "Training diverged: the loss became {0} at epoch {1}, step {2} of {3} (learning rate {4:G4}). ", loss, context.Epoch, batch + 1,
                context.StepsPerEpoch, context.LearningRate) + Causes);
            return;
        }
        _batches++;
        if (double.IsNaN(_firstLoss)) _firstLoss = loss;
        _average = Beta * _average + (1 - Beta) * loss;
        double smoothed = _average / (1 - Math.Pow(Beta, _batches));
        double reference = Math.Max(_firstLoss, 0.01);
        if (_factor is double factor && smoothed > factor * reference)
            context.Diverge(string.Format(ci,
                "Training diverged: the loss exploded at epoch {0}, step {1} of {2} (learning rate {3:G4}): its smoothed value {4:G4} is {5:G3} times " +
                "the first batch's loss {6:G4} (Regularization.DivergenceFactor = {7:G3}). ", context.Epoch, batch + 1, context.StepsPerEpoch,
                context.LearningRate, smoothed, smoothed / reference, _firstLoss, factor) + Causes);
    }

    private const string Causes =
        "Likely causes: a learning rate too high for this optimizer, unscaled features (e.g. pixel values 0-255 instead of 0-1), " +
        "or an initialisation that is too large. Lower Optimizer.LearningRate, scale the features, or add gradient clipping " +
        "(Regularization.GradientClipNorm).";

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
    {
        _best.Offer(context.Network, summary);
        _rising = summary.TrainLoss > _lastEpochLoss ? _rising + 1 : 0;
        _lastEpochLoss = summary.TrainLoss;
        if (_rising >= RisingEpochs && !_warnedRising)
        {
            _warnedRising = true;
            context.Warn(string.Format(CultureInfo.InvariantCulture,
                "The training loss has risen for {0} epochs in a row (now {1:G4} at epoch {2}): the run may be diverging. " +
                "Lower the learning rate, add a schedule (e.g. ReduceOnPlateau) or gradient clipping.", _rising, summary.TrainLoss, summary.Epoch));
        }
    }

    /// <summary>After a divergence: put back the best weights, then throw or record why the run stopped.</summary>
    public override void OnTrainEnd(TrainingContext context)
    {
        var history = context.History;
        history.BestEpoch = _best.BestEpoch;
        if (context.Divergence is not string diverged) return;
        history.RestoredEpoch = _best.Restore(context.Network);
        if (_action == NonFiniteLossAction.Throw || history.RestoredEpoch is null)
            throw new DivergedSignal(diverged + (history.RestoredEpoch is int r
                ? $" The best weights so far (epoch {r}) are in the exception's BestModel."
                : " No epoch finished, so there are no weights worth keeping."), history.RestoredEpoch is not null);
        history.StopReason = diverged + $" Restored the weights of epoch {history.RestoredEpoch} (Regularization.OnNonFiniteLoss = StopAndRestoreBest).";
        context.Warn(history.StopReason);
    }

    public override bool HasState => true;

    public override void SaveState(BinaryWriter writer)
    {
        writer.Write(_firstLoss);
        writer.Write(_average);
        writer.Write(_batches);
        writer.Write(_lastEpochLoss);
        writer.Write(_rising);
        writer.Write(_warnedRising);
        _best.SaveState(writer);
    }

    public override void LoadState(BinaryReader reader)
    {
        _firstLoss = reader.ReadDouble();
        _average = reader.ReadDouble();
        _batches = reader.ReadInt64();
        _lastEpochLoss = reader.ReadDouble();
        _rising = reader.ReadInt32();
        _warnedRising = reader.ReadBoolean();
        _best.LoadState(reader);
    }

    public void Dispose() => _best.Dispose();
}

/// <summary>Carries a divergence out of the loop to <c>Fit</c>, which wraps the best model into the public exception.</summary>
internal sealed class DivergedSignal : Exception
{
    public DivergedSignal(string message, bool hasWeights) : base(message) => HasWeights = hasWeights;
    public bool HasWeights { get; }
}
