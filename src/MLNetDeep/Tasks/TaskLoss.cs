using MLNetDeep.Regularization;
using static TorchSharp.torch;

namespace MLNetDeep.Tasks;

/// <summary>
/// One run's loss: the task's loss with the run's label smoothing and class weights for training, and the plain task
/// loss for validation (so validation figures stay comparable between runs with different smoothing or weights).
/// </summary>
internal sealed class TaskLoss : IDisposable
{
    private readonly TaskHead _head;
    private readonly double _labelSmoothing;
    private readonly Tensor? _classWeights;

    private TaskLoss(TaskHead head, double labelSmoothing, Tensor? classWeights)
    {
        _head = head;
        _labelSmoothing = labelSmoothing;
        _classWeights = classWeights;
    }

    /// <summary>Checks the options against the task and builds the class weights (explicit, or balanced from <paramref name="rawLabels"/>).</summary>
    public static TaskLoss Create(TaskHead head, HeadSpec spec, RegularizationOptions? options, float[] rawLabels, Device device)
    {
        var o = options ?? new RegularizationOptions();
        if (o.LabelSmoothing > 0 && !head.HasClasses)
            throw new ArgumentException(
                $"Regularization.LabelSmoothing applies to classification only; this is a {head.Kind} trainer. Received: LabelSmoothing={o.LabelSmoothing}. Set it to 0.",
                nameof(RegularizationOptions.LabelSmoothing));
        Tensor? weights = null;
        if (o.HasClassWeights)
        {
            if (!head.HasClasses)
                throw new ArgumentException($"Regularization.ClassWeights / BalanceClasses apply to classification only; this is a {head.Kind} trainer. " +
                                            "Use ExampleWeightColumnName for per-row weights.", nameof(RegularizationOptions.ClassWeights));
            weights = tensor(ClassWeightsFor(o, rawLabels, head.WeightedClassCount(spec)), device: device);
        }
        return new TaskLoss(head, o.LabelSmoothing, weights);
    }

    /// <summary>Explicit weights (checked against the class count) or "balanced" ones from the label counts.</summary>
    internal static float[] ClassWeightsFor(RegularizationOptions o, float[] rawLabels, int classes)
    {
        if (o.ClassWeights is { } given)
        {
            if (given.Count != classes)
                throw new ArgumentException(
                    $"Regularization.ClassWeights has {given.Count} entries but the label has {classes} classes (in key order{(classes == 2 ? "; binary: [negative, positive]" : "")}). " +
                    $"Received: ClassWeights=[{string.Join(", ", given)}]", nameof(RegularizationOptions.ClassWeights));
            return given.Select(w => (float)w).ToArray();
        }
        var counts = new long[classes];
        foreach (var l in rawLabels) counts[classes == 2 && l > 0 ? 1 : (int)l]++;
        // n / (k · count); a class absent from the training data gets weight 0 (it never occurs anyway).
        return counts.Select(c => c == 0 ? 0f : (float)(rawLabels.Length / (double)(classes * c))).ToArray();
    }

    /// <summary>The training loss of a batch (smoothed, class- and example-weighted).</summary>
    public Tensor Training(Tensor output, Tensor labels, Tensor? exampleWeights) =>
        _head.TrainingLoss(output, labels, exampleWeights, _labelSmoothing, _classWeights);

    /// <summary>The plain task loss, example-weighted (validation).</summary>
    public Tensor Validation(Tensor output, Tensor labels, Tensor? exampleWeights) =>
        TaskHead.Reduce(_head.Loss(output, labels), exampleWeights);

    public void Dispose() => _classWeights?.Dispose();
}
