namespace MLNetDeep.Checkpoints;

/// <summary>
/// Periodic training checkpoints (weights, optimizer state, random-generator state, every component's state such as
/// early stopping's and the schedule's, history) written to a folder, and resuming from the last one. Resuming an
/// interrupted run with the same options and seed gives the same weights as an uninterrupted run (on CPU).
/// </summary>
/// <remarks>
/// The folder keeps the latest checkpoint in <c>latest/</c> and the one before in <c>previous/</c>. Every file's size and
/// SHA-256 are recorded in <c>info.json</c>, written last; a checkpoint that does not match them is refused as damaged
/// (nothing of it reaches LibTorch) with the way out: delete the folder, or resume from the previous one.
/// </remarks>
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
    /// <summary>Folder for the checkpoints (created if needed; the latest and the one before are kept). Required.</summary>
    public string Directory { get; init; } = "";
    /// <summary>Write a checkpoint every N epochs (and always after the last). Default 1.</summary>
    public int EveryEpochs { get; init; } = 1;
    /// <summary>When the folder holds a checkpoint, continue from it instead of starting over. Default true.</summary>
    public bool Resume { get; init; } = true;
    /// <summary>Which checkpoint a resume starts from. Default <see cref="CheckpointSlot.Latest"/>.</summary>
    public CheckpointSlot ResumeFrom { get; init; } = CheckpointSlot.Latest;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
            throw new ArgumentException("Checkpoints.Directory must name a folder (e.g. \"checkpoints\"). Received: an empty name.", nameof(Directory));
        if (EveryEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(EveryEpochs), EveryEpochs, $"Checkpoints.EveryEpochs must be >= 1. Received: EveryEpochs={EveryEpochs}");
        if (!Enum.IsDefined(ResumeFrom))
            throw new ArgumentOutOfRangeException(nameof(ResumeFrom), ResumeFrom, $"Checkpoints.ResumeFrom is not a known slot. Received: ResumeFrom={ResumeFrom}");
    }
}

/// <summary>The checkpoints a folder keeps.</summary>
public enum CheckpointSlot
{
    /// <summary>The last checkpoint written (folder <c>latest/</c>).</summary>
    Latest,
    /// <summary>The one before it (folder <c>previous/</c>): the way back when the latest is damaged.</summary>
    Previous,
}
