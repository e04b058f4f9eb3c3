using System.Text.Json;
using MLNetDeep.Optimizers;
using MLNetDeep.Persistence;
using MLNetDeep.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Checkpoints;

/// <summary>What a checkpoint records besides tensors.</summary>
internal sealed class CheckpointInfo
{
    public int Epoch { get; init; }
    public long GlobalStep { get; init; }
    public int? Seed { get; init; }
    public TrainingHistory History { get; init; } = new();
    // Early stopping and best-weights trackers, so a resumed run stops and restores as an uninterrupted one.
    public double? EarlyStoppingBest { get; init; }
    public int? EarlyStoppingBestEpoch { get; init; }
    public int EarlyStoppingWait { get; init; }
    public double TrackerBest { get; init; } = double.PositiveInfinity;
    public int? TrackerBestEpoch { get; init; }
}

/// <summary>
/// Reads and writes one checkpoint folder: info.json (epoch, step, seed, history), weights.bin (network state),
/// optimizer.bin (updater state), rng.bin (torch CPU generator state). info.json is written last through a rename,
/// so a checkpoint interrupted while being written is never picked up half-done.
/// </summary>
internal static class TrainingCheckpoint
{
    private const string Info = "info.json", Weights = "weights.bin", OptimizerState = "optimizer.bin", Rng = "rng.bin", Best = "best.bin";

    /// <summary>The info with the trackers' counters filled in.</summary>
    public static CheckpointInfo Describe(int epoch, long globalStep, int? seed, TrainingHistory history,
        EarlyStopping.EarlyStoppingMonitor? stopper, BestWeightsTracker tracker) => new()
    {
        Epoch = epoch, GlobalStep = globalStep, Seed = seed, History = history,
        EarlyStoppingBest = stopper?.State.BestValue, EarlyStoppingBestEpoch = stopper?.State.BestEpoch, EarlyStoppingWait = stopper?.State.Wait ?? 0,
        TrackerBest = tracker.State.Best, TrackerBestEpoch = tracker.BestEpoch,
    };

    /// <summary>Writes the trackers' weight snapshots (when present).</summary>
    public static void SaveSnapshots(string directory, EarlyStopping.EarlyStoppingMonitor? stopper, BestWeightsTracker tracker)
    {
        var infoPath = Path.Combine(directory, Info);
        if (File.Exists(infoPath)) File.Delete(infoPath); // the checkpoint is incomplete until info.json is back
        using var w = new BinaryWriter(File.Create(Path.Combine(directory, Best)));
        foreach (var snap in new[] { stopper?.State.Snapshot, tracker.State.Snapshot })
        {
            w.Write(snap is not null);
            snap?.Save(w);
        }
    }

    /// <summary>Puts the trackers back as they were when the checkpoint was written.</summary>
    public static void LoadSnapshots(string directory, CheckpointInfo info, EarlyStopping.EarlyStoppingMonitor? stopper, BestWeightsTracker tracker)
    {
        using var r = new BinaryReader(File.OpenRead(Path.Combine(directory, Best)));
        var es = r.ReadBoolean() ? WeightSnapshot.Load(r) : null;
        var tr = r.ReadBoolean() ? WeightSnapshot.Load(r) : null;
        if (stopper is not null) stopper.SetState(info.EarlyStoppingBest, info.EarlyStoppingBestEpoch, info.EarlyStoppingWait, es);
        else es?.Dispose();
        tracker.SetState(info.TrackerBest, info.TrackerBestEpoch, tr);
    }

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, Info));

    public static void Save(string directory, CheckpointInfo info, nn.Module network, IParameterUpdater updater)
    {
        System.IO.Directory.CreateDirectory(directory);
        var infoPath = Path.Combine(directory, Info);
        if (File.Exists(infoPath)) File.Delete(infoPath); // the old tensors are about to be overwritten
        using (var fs = File.Create(Path.Combine(directory, Weights))) network.save(fs);
        using (var w = new BinaryWriter(File.Create(Path.Combine(directory, OptimizerState)))) SaveUpdater(updater, w);
        using (var state = random.get_rng_state())
            File.WriteAllBytes(Path.Combine(directory, Rng), state.data<byte>().ToArray());
        var tmp = infoPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(info, Json.Options));
        File.Move(tmp, infoPath, overwrite: true);
    }

    public static CheckpointInfo Load(string directory, nn.Module network, IParameterUpdater updater)
    {
        var info = JsonSerializer.Deserialize<CheckpointInfo>(File.ReadAllText(Path.Combine(directory, Info)), Json.Options)
                   ?? throw new InvalidDataException($"The checkpoint in '{directory}' is unreadable; delete the folder to start over.");
        try
        {
            using (var fs = File.OpenRead(Path.Combine(directory, Weights))) network.load(fs, strict: true);
        }
        catch (Exception e)
        {
            throw new ArgumentException($"The checkpoint in '{directory}' was written by a different architecture ({e.Message}). " +
                                        "Use the options of the interrupted run, or another Checkpoints.Directory.", nameof(CheckpointOptions.Directory), e);
        }
        using (var r = new BinaryReader(File.OpenRead(Path.Combine(directory, OptimizerState)))) LoadUpdater(updater, r);
        var bytes = File.ReadAllBytes(Path.Combine(directory, Rng));
        using (var state = tensor(bytes, dtype: ScalarType.Byte)) random.set_rng_state(state);
        return info;
    }

    private static void SaveUpdater(IParameterUpdater updater, BinaryWriter w) => updater.SaveState(w);

    private static void LoadUpdater(IParameterUpdater updater, BinaryReader r) => updater.LoadState(r);
}
