namespace MLNetDeep.Training;

/// <summary>
/// A component of the training loop (skorch's "everything is a callback"). The loop itself only runs batches; the
/// learning-rate schedule, regularisation and clipping, diagnostics, the divergence guard, early stopping, progress
/// and checkpoints are callbacks too, and run in that order before and after the user's
/// <see cref="TrainerOptions.Callbacks"/> (checkpointing last). Override what you need; every method does nothing by
/// default. Call <see cref="TrainingContext.Stop"/> (or set <see cref="TrainingContext.StopTraining"/>) to end training
/// after the current epoch.
/// </summary>
/// <remarks>
/// A callback owns its state (Keras). Give it <see cref="SaveState"/> / <see cref="LoadState"/> and checkpoints keep it,
/// so a resumed run behaves as an uninterrupted one. The order of calls inside one step: <see cref="OnBatchBegin"/>,
/// forward and loss, backward, <see cref="OnGradientsComputed"/>, <see cref="OnBeforeStep"/> (penalties and clipping
/// are applied here by the regularisation component, which runs first), the optimizer step,
/// <see cref="OnAfterStep"/>, <see cref="OnBatchEnd"/>.
/// </remarks>
public abstract class TrainingCallback
{
    /// <summary>Before the first epoch (when resuming, before the checkpoint's state is put back).</summary>
    public virtual void OnTrainBegin(TrainingContext context) { }
    /// <summary>Before each epoch (<paramref name="epoch"/> is 1-based); the network is already in training mode.</summary>
    public virtual void OnEpochBegin(TrainingContext context, int epoch) { }
    /// <summary>Before each batch's forward pass (<paramref name="batch"/> is 0-based within the epoch).</summary>
    public virtual void OnBatchBegin(TrainingContext context, int batch) { }
    /// <summary>After backward() and before the optimizer step: gradients are on the parameters.</summary>
    public virtual void OnGradientsComputed(TrainingContext context) { }
    /// <summary>Just before the optimizer step; after the regularisation component, the gradients the optimizer will apply.</summary>
    public virtual void OnBeforeStep(TrainingContext context) { }
    /// <summary>Right after the optimizer step (post-step constraints such as max-norm run here).</summary>
    public virtual void OnAfterStep(TrainingContext context) { }
    /// <summary>After each batch, with that batch's mean loss (not finite when the loss diverged: the step was not applied).</summary>
    public virtual void OnBatchEnd(TrainingContext context, int batch, double loss) { }
    /// <summary>After each epoch, with its figures (validation included).</summary>
    public virtual void OnEpochEnd(TrainingContext context, EpochSummary summary) { }
    /// <summary>After the last epoch (or after a stop or divergence).</summary>
    public virtual void OnTrainEnd(TrainingContext context) { }

    /// <summary>
    /// The key this callback's state is saved under in a checkpoint. Default: the type's name; give two instances of
    /// one type different keys when both keep state.
    /// </summary>
    public virtual string StateKey => GetType().FullName ?? GetType().Name;

    /// <summary>True when the callback keeps state a checkpoint must save (then <see cref="SaveState"/> and <see cref="LoadState"/> are called).</summary>
    public virtual bool HasState => false;

    /// <summary>Writes the callback's state for a checkpoint.</summary>
    public virtual void SaveState(BinaryWriter writer) { }

    /// <summary>Reads back what <see cref="SaveState"/> wrote when a run resumes from a checkpoint.</summary>
    public virtual void LoadState(BinaryReader reader) { }
}
