using System.Diagnostics;
using MLNetDeep.Data;
using MLNetDeep.Models;
using static TorchSharp.torch;

namespace MLNetDeep.Training;

/// <summary>
/// The training loop: epochs of batches, and nothing else. Everything around the batches — the schedule,
/// regularisation, diagnostics, the divergence guard, early stopping, progress, the user's callbacks, checkpoints — is a
/// <see cref="TrainingCallback"/> in <see cref="Components"/>, called in order at each hook. The family-specific steps
/// (the training forward pass, the loss, validation) are <see cref="TrainingSteps"/>.
/// </summary>
internal sealed class TrainingLoop
{
    private readonly TrainingContext _context;
    private readonly TrainingSteps _steps;
    private readonly DeepNetwork _network;
    private readonly BatchPlan _plan;
    private readonly Regularization.RegularizationCallback? _regularization;

    public TrainingLoop(TrainingContext context, DeepNetwork network, TrainingSteps steps, BatchPlan plan, IReadOnlyList<TrainingCallback> components)
    {
        _context = context;
        _network = network;
        _steps = steps;
        _plan = plan;
        Components = components;
        _regularization = components.OfType<Regularization.RegularizationCallback>().FirstOrDefault();
    }

    /// <summary>The components, in call order.</summary>
    public IReadOnlyList<TrainingCallback> Components { get; }

    /// <summary>Trains until the last epoch, a stop, or a divergence.</summary>
    public void Run(ITrainingData train, ITrainingData? validation)
    {
        foreach (var c in Components) c.OnTrainBegin(_context);
        var epochTimes = new List<double>();
        for (int epoch = _context.StartEpoch; epoch <= _context.Epochs && !_context.StopTraining; epoch++)
        {
            var sw = Stopwatch.StartNew();
            if (!TrainEpoch(epoch, train, out double trainLoss)) break; // diverged, or stopped at once
            var (valLoss, metrics) = validation is null ? ((double?)null, new Dictionary<string, double>()) : _steps.Evaluate(_network, validation);
            sw.Stop();
            epochTimes.Add(sw.Elapsed.TotalSeconds);
            var summary = new EpochSummary
            {
                Epoch = epoch,
                Epochs = _context.Epochs,
                TrainLoss = trainLoss,
                ValidationLoss = valLoss,
                ValidationMetrics = metrics,
                LearningRate = _context.LearningRate,
                Duration = sw.Elapsed,
                EstimatedRemaining = TimeSpan.FromSeconds(epochTimes.Average() * (_context.Epochs - epoch)),
                SamplesPerSecond = train.Count / sw.Elapsed.TotalSeconds,
            };
            var history = _context.History;
            history.Epochs.Add(summary);
            history.StoppedEpoch = epoch;
            foreach (var c in Components) c.OnEpochEnd(_context, summary);
        }
        if (_context.StopTraining && _context.History.StopReason.Length == 0) _context.History.StopReason = DefaultStopReason(_context);
        foreach (var c in Components) c.OnTrainEnd(_context);
        if (_context.History.StopReason.Length == 0) _context.History.StopReason = $"completed all {_context.Epochs} epochs";
    }

    /// <summary>Why a run stopped by a callback that gave no reason.</summary>
    internal static string DefaultStopReason(TrainingContext context) =>
        context.StopReason ?? $"stopped by a callback after epoch {context.History.StoppedEpoch}";

    /// <summary>One pass over the training data; false when the run diverged.</summary>
    private bool TrainEpoch(int epoch, ITrainingData train, out double meanLoss)
    {
        _context.Epoch = epoch;
        _steps.TrainMode(_network);
        foreach (var c in Components) c.OnEpochBegin(_context, epoch);
        double lossSum = 0;
        int b = 0;
        using var batches = train.Epoch(epoch, _plan).GetEnumerator();
        while (true)
        {
            _context.Options.CancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope(); // the batch's tensors and everything the step makes
            if (!batches.MoveNext()) break;
            var batch = batches.Current;
            foreach (var c in Components) c.OnBatchBegin(_context, b);
            double loss = Step(batch);
            foreach (var c in Components) c.OnBatchEnd(_context, b, loss);
            if (_context.Divergence is not null || _context.StoppedNow) break;
            lossSum += loss * batch.Count;
            _context.GlobalStep++;
            b++;
        }
        meanLoss = lossSum / train.Count;
        return _context.Divergence is null && !_context.StoppedNow;
    }

    /// <summary>
    /// One optimisation step: forward and loss, backward, the components' gradient hooks (penalties and clipping), the
    /// optimizer step, the post-step hooks. Returns the batch loss; when it is not finite, nothing is updated.
    /// </summary>
    private double Step(Batch batch)
    {
        var updater = _context.Updater;
        updater.ZeroGrad();
        var loss = _steps.TrainingLoss(_network, batch, _context);
        double value = loss.item<float>();
        if (!double.IsFinite(value)) return value;
        loss.backward();
        foreach (var c in Components) c.OnGradientsComputed(_context);
        foreach (var c in Components) c.OnBeforeStep(_context);
        updater.Step(() => Reevaluate(batch));
        foreach (var c in Components) c.OnAfterStep(_context);
        return value;
    }

    /// <summary>The closure optimizers that evaluate the loss several times per step call (L-BFGS's line search).</summary>
    private double Reevaluate(Batch batch)
    {
        using var scope = NewDisposeScope();
        _context.Updater.ZeroGrad();
        var loss = _steps.TrainingLoss(_network, batch, _context);
        if (_regularization?.PenaltyLoss() is Tensor penalty) loss = loss + penalty;
        loss.backward();
        return loss.item<float>();
    }
}
