namespace MLNetDeep.Checkpoints;

/// <summary>
/// Periodic training checkpoints (weights, optimizer state, random-generator state, history) written to a folder,
/// and resuming from the last one. Resuming an interrupted run with the same options and seed gives the same weights
/// as an uninterrupted run (on CPU).
/// </summary>
/// <example>
/// <code>
/// using var cts = new CancellationTokenSource();
/// var options = new CnnOptions { ..., CancellationToken = cts.Token,
///     Checkpoints = new CheckpointOptions { Directory = "ckpt", Resume = true } };
/// // First call: cancelled part-way (OperationCanceledException). Second call with the same options: continues
/// // from the last finished epoch's checkpoint.
/// </code>
/// </example>
public sealed class CheckpointOptions
{
    /// <summary>Folder for the checkpoint (created if needed; one checkpoint, overwritten). Required.</summary>
    public string Directory { get; init; } = "";
    /// <summary>Write a checkpoint every N epochs (and always after the last). Default 1.</summary>
    public int EveryEpochs { get; init; } = 1;
    /// <summary>When the folder holds a checkpoint, continue from it instead of starting over. Default true.</summary>
    public bool Resume { get; init; } = true;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
            throw new ArgumentException("Checkpoints.Directory must name a folder (e.g. \"checkpoints\"). Received: an empty name.", nameof(Directory));
        if (EveryEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(EveryEpochs), EveryEpochs, $"Checkpoints.EveryEpochs must be >= 1. Received: EveryEpochs={EveryEpochs}");
    }
}
