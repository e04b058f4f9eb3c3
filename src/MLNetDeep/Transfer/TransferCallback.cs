using MLNetDeep.Training;

namespace MLNetDeep.Transfer;

/// <summary>
/// The training-time half of <see cref="TransferOptions"/>, as a component of the loop: frozen modules stay in eval
/// mode every epoch (their batch-norm statistics and dropout don't move), and their parameters are trainable again
/// once training ends (freezing is a property of the run, not of the model).
/// </summary>
internal sealed class TransferCallback : TrainingCallback
{
    private readonly TransferOptions _o;

    public TransferCallback(TransferOptions options) => _o = options;

    public override void OnEpochBegin(TrainingContext context, int epoch) => TransferLearning.FrozenToEval(context.Network, _o);

    public override void OnTrainEnd(TrainingContext context)
    {
        foreach (var p in context.Network.parameters()) p.requires_grad = true;
    }
}
