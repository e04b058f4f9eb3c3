using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Tasks;
using static TorchSharp.torch;

namespace MLNetDeep.Training;

/// <summary>
/// The small steps of one training run that a network family may change (skorch's overridable methods): training mode,
/// the training forward pass, the loss, and validation. One instance per <c>Fit</c>, so family state (e.g. the run's
/// copy of the augmentation options) lives here and not on the estimator.
/// </summary>
internal class TrainingSteps
{
    public TrainingSteps(TaskHead head, TaskLoss loss, int scoringBatchSize)
    {
        Head = head;
        Loss = loss;
        ScoringBatchSize = scoringBatchSize;
    }

    /// <summary>The task.</summary>
    protected TaskHead Head { get; }
    /// <summary>The run's loss (training: smoothed and weighted; validation: plain).</summary>
    protected TaskLoss Loss { get; }
    /// <summary>Rows per forward pass when scoring (validation uses at least 512).</summary>
    protected int ScoringBatchSize { get; }

    /// <summary>Puts the network in training mode before each epoch.</summary>
    public virtual void TrainMode(DeepNetwork network) => network.train();

    /// <summary>The network's output for a batch in training; runs inside the run's random stream (dropout draws).</summary>
    protected virtual Tensor TrainingForward(DeepNetwork network, Batch batch) => network.Forward(batch.Features, batch.Lengths);

    /// <summary>
    /// The training forward pass with the run's context (epoch, step); families whose forward pass depends on where
    /// training is (scheduled sampling) override this one. Default: <see cref="TrainingForward(DeepNetwork, Batch)"/>.
    /// </summary>
    protected virtual Tensor TrainingForward(DeepNetwork network, Batch batch, TrainingContext context) => TrainingForward(network, batch);

    /// <summary>The network's output for a batch in eval mode (validation).</summary>
    protected virtual Tensor EvalForward(DeepNetwork network, Batch batch) => network.Forward(batch.Features, batch.Lengths);

    /// <summary>The training loss of a batch: the forward pass (drawing from the run's random stream) and the task's training loss.</summary>
    public Tensor TrainingLoss(DeepNetwork network, Batch batch, TrainingContext context)
    {
        var output = context.Random.Use(() => TrainingForward(network, batch, context));
        return Loss.Training(output, batch.Labels, batch.Weights);
    }

    /// <summary>Validation loss and metrics over a whole data set (eval mode, no gradients).</summary>
    public virtual (double? Loss, Dictionary<string, double> Metrics) Evaluate(DeepNetwork network, ITrainingData data)
    {
        network.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var outputs = new List<Tensor>();
        var labels = new List<Tensor>();
        var weights = new List<Tensor>();
        foreach (var batch in data.InOrder(Math.Max(ScoringBatchSize, 512)))
        {
            outputs.Add(EvalForward(network, batch));
            labels.Add(batch.Labels);
            if (batch.Weights is not null) weights.Add(batch.Weights);
        }
        var output = CatRows(outputs);
        var allLabels = cat(labels, 0);
        double loss = Loss.Validation(output, allLabels, weights.Count == 0 ? null : cat(weights, 0)).item<float>();
        return (loss, Head.Metrics(data.Spec, output, allLabels));
    }

    /// <summary>Concatenates per-chunk outputs along rows; per-step outputs [B, T, K] of different T are zero-padded to the longest.</summary>
    protected static Tensor CatRows(List<Tensor> outputs)
    {
        if (outputs.Count == 1 || outputs[0].dim() < 3) return cat(outputs, 0);
        long steps = outputs.Max(o => o.shape[1]);
        return cat(outputs.Select(o => o.shape[1] == steps ? o : nn.functional.pad(o, new long[] { 0, 0, 0, steps - o.shape[1] })).ToList(), 0);
    }
}
