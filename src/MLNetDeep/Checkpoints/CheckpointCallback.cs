using MLNetDeep.Training;

namespace MLNetDeep.Checkpoints;

/// <summary>
/// Checkpointing as a component of the loop (it runs last): after every <see cref="CheckpointOptions.EveryEpochs"/>-th
/// epoch, the last one and a stop, it writes the network, the optimizer's state, the run's random-generator state, the
/// history and the state of every component that has one; at the start of a run it puts all of them back from the
/// folder's checkpoint, so the resumed run continues exactly where the interrupted one was.
/// </summary>
internal sealed class CheckpointCallback : TrainingCallback
{
    private const string Weights = "weights.bin", Optimizer = "optimizer.bin", Rng = "rng.bin", Components = "components.bin";

    private readonly CheckpointOptions _o;
    private readonly Func<IReadOnlyList<TrainingCallback>> _components;

    public CheckpointCallback(CheckpointOptions options, Func<IReadOnlyList<TrainingCallback>> components)
    {
        _o = options;
        _components = components;
    }

    private IEnumerable<TrainingCallback> Stateful => _components().Where(c => c.HasState);

    public override void OnTrainBegin(TrainingContext context)
    {
        if (!_o.Resume) return;
        if (CheckpointFolder.HasLegacyCheckpoint(_o.Directory))
            throw new CheckpointDamagedException(
                $"The folder '{_o.Directory}' holds a checkpoint written by an earlier MLNetDeep version (format 1), which this version can't resume. " +
                "Delete the folder to start over, or use another Checkpoints.Directory.");
        if (!CheckpointFolder.Exists(_o.Directory, _o.ResumeFrom)) return;
        var (info, folder) = CheckpointFolder.Open(_o.Directory, _o.ResumeFrom);
        if (info.Seed != context.Seed)
            throw new ArgumentException($"The checkpoint in '{folder}' was written with Seed={info.Seed}; this run has Seed={context.Seed}. " +
                                        "Use the interrupted run's seed, or another Checkpoints.Directory.", nameof(TrainerOptions.Seed));
        var keys = Stateful.Select(c => c.StateKey).ToList();
        if (!keys.SequenceEqual(info.Components))
            throw new ArgumentException(
                $"The checkpoint in '{folder}' was written by a run with other components ({Describe(info.Components)}) than this one ({Describe(keys)}): " +
                "early stopping, diagnostics, the schedule or the callbacks differ. Use the options of the interrupted run, or another Checkpoints.Directory.",
                nameof(TrainerOptions.Checkpoints));
        try
        {
            using (var fs = File.OpenRead(Path.Combine(folder, Weights))) context.Network.load(fs, strict: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ArgumentException($"The checkpoint in '{folder}' was written by a different architecture ({e.Message}). " +
                                        "Use the options of the interrupted run, or another Checkpoints.Directory.", nameof(CheckpointOptions.Directory), e);
        }
        using (var r = new BinaryReader(File.OpenRead(Path.Combine(folder, Optimizer)))) context.Updater.LoadState(r);
        context.Random.SetState(File.ReadAllBytes(Path.Combine(folder, Rng)));
        using (var r = new BinaryReader(File.OpenRead(Path.Combine(folder, Components))))
        {
            int n = r.ReadInt32();
            foreach (var component in Stateful)
            {
                var key = r.ReadString();
                var bytes = r.ReadBytes(checked((int)r.ReadInt64()));
                using var state = new BinaryReader(new MemoryStream(bytes));
                component.LoadState(state);
            }
        }
        var history = context.History;
        history.Epochs.AddRange(info.History.Epochs);
        history.Diagnostics.AddRange(info.History.Diagnostics);
        history.StoppedEpoch = info.Epoch;
        context.StartEpoch = info.Epoch + 1;
        context.GlobalStep = info.GlobalStep;
        if (info.History.StopReason.Length > 0)
        {
            // That run had already stopped (early stopping, a callback): don't train past its stop.
            history.StopReason = info.History.StopReason;
            context.StartEpoch = context.Epochs + 1;
        }
        context.Log($"resuming from the checkpoint of epoch {info.Epoch} in '{folder}'");
    }

    private static string Describe(IReadOnlyList<string> keys) =>
        keys.Count == 0 ? "none" : string.Join(", ", keys.Select(k => k[(k.LastIndexOf('.') + 1)..]));

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
    {
        int epoch = summary.Epoch;
        if (!(epoch % _o.EveryEpochs == 0 || epoch == context.Epochs || context.StopTraining)) return;
        if (context.StopTraining && context.History.StopReason.Length == 0) context.History.StopReason = TrainingLoop.DefaultStopReason(context);
        var stateful = Stateful.ToList();
        var info = new CheckpointInfo
        {
            Epoch = epoch, GlobalStep = context.GlobalStep, Seed = context.Seed, History = context.History,
            Components = stateful.Select(c => c.StateKey).ToList(),
        };
        CheckpointFolder.Write(_o.Directory, info, folder =>
        {
            using (var fs = File.Create(Path.Combine(folder, Weights))) context.Network.save(fs);
            using (var w = new BinaryWriter(File.Create(Path.Combine(folder, Optimizer)))) context.Updater.SaveState(w);
            File.WriteAllBytes(Path.Combine(folder, Rng), context.Random.GetState());
            using var cw = new BinaryWriter(File.Create(Path.Combine(folder, Components)));
            cw.Write(stateful.Count);
            foreach (var component in stateful)
            {
                using var ms = new MemoryStream();
                using (var sw = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) component.SaveState(sw);
                cw.Write(component.StateKey);
                cw.Write(ms.Length);
                cw.Write(ms.GetBuffer(), 0, (int)ms.Length);
            }
        });
    }
}
