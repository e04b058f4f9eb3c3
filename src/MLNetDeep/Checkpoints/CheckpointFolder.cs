using System.Security.Cryptography;
using System.Text.Json;
using MLNetDeep.Persistence;
using MLNetDeep.Training;

namespace MLNetDeep.Checkpoints;

/// <summary>What a checkpoint records besides tensors, and the size and SHA-256 of each of its files.</summary>
internal sealed class CheckpointInfo
{
    public const int CurrentFormat = 2;
    public int FormatVersion { get; init; } = CurrentFormat;
    public int Epoch { get; init; }
    public long GlobalStep { get; init; }
    public int Seed { get; init; }
    public TrainingHistory History { get; init; } = new();
    /// <summary>The state keys of the components whose state the checkpoint holds, in order.</summary>
    public List<string> Components { get; init; } = new();
    /// <summary>Every file of the checkpoint but info.json: its size and SHA-256.</summary>
    public Dictionary<string, FileRecord> Files { get; init; } = new();
}

/// <summary>A checkpoint file's size in bytes and SHA-256 (hex).</summary>
internal sealed record FileRecord(long Bytes, string Sha256);

/// <summary>
/// The checkpoint folder: <c>latest/</c> and <c>previous/</c>, each with info.json (written last) and the state files it
/// lists. A new checkpoint is written complete into a temporary folder and then takes the place of <c>latest/</c>, whose
/// checkpoint becomes <c>previous/</c>. Opening one checks every file's size and SHA-256 first, so a damaged checkpoint is
/// refused with a clear message and none of it reaches LibTorch.
/// </summary>
internal static class CheckpointFolder
{
    public const string InfoFile = "info.json";
    private const string NextPrefix = ".next-";

    public static string SlotFolder(string directory, CheckpointSlot slot) =>
        Path.Combine(directory, slot == CheckpointSlot.Latest ? "latest" : "previous");

    /// <summary>True when the slot holds a checkpoint (complete or damaged) to resume from.</summary>
    public static bool Exists(string directory, CheckpointSlot slot)
    {
        RecoverInterruptedRotation(directory);
        return Directory.Exists(SlotFolder(directory, slot));
    }

    /// <summary>True when the folder holds a checkpoint of the first format (files directly in the folder).</summary>
    public static bool HasLegacyCheckpoint(string directory) =>
        File.Exists(Path.Combine(directory, InfoFile)) && File.Exists(Path.Combine(directory, "weights.bin"));

    /// <summary>Writes a checkpoint: <paramref name="writeFiles"/> fills a fresh folder, info.json with the files' records goes last, then the rotation.</summary>
    public static void Write(string directory, CheckpointInfo info, Action<string> writeFiles)
    {
        Directory.CreateDirectory(directory);
        var next = Path.Combine(directory, NextPrefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(next);
        try
        {
            writeFiles(next);
            var files = Directory.GetFiles(next).Select(Path.GetFileName).Where(f => f != InfoFile).OrderBy(f => f, StringComparer.Ordinal)
                .ToDictionary(f => f!, f => Record(Path.Combine(next, f!)));
            var complete = new CheckpointInfo
            {
                Epoch = info.Epoch, GlobalStep = info.GlobalStep, Seed = info.Seed, History = info.History, Components = info.Components, Files = files,
            };
            AtomicFile.WriteAllText(Path.Combine(next, InfoFile), JsonSerializer.Serialize(complete, Json.Options));
            var latest = SlotFolder(directory, CheckpointSlot.Latest);
            var previous = SlotFolder(directory, CheckpointSlot.Previous);
            if (Directory.Exists(latest))
            {
                if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
                Directory.Move(latest, previous);
            }
            Directory.Move(next, latest);
        }
        finally
        {
            if (Directory.Exists(next)) Directory.Delete(next, recursive: true);
        }
    }

    /// <summary>Opens a slot's checkpoint after checking every file; throws <see cref="CheckpointDamagedException"/> naming what is wrong and the way out.</summary>
    public static (CheckpointInfo Info, string Folder) Open(string directory, CheckpointSlot slot)
    {
        var folder = SlotFolder(directory, slot);
        var problem = Verify(folder, out var info);
        if (problem is null) return (info!, folder);
        string fallback = "";
        if (slot == CheckpointSlot.Latest && Verify(SlotFolder(directory, CheckpointSlot.Previous), out var previous) is null)
            fallback = $", or set Checkpoints.ResumeFrom = CheckpointSlot.Previous to resume from the checkpoint of epoch {previous!.Epoch}";
        throw new CheckpointDamagedException(
            $"The checkpoint in '{folder}' is damaged: {problem}. Delete the folder '{directory}' to start over{fallback}.");
    }

    /// <summary>Null when the folder holds a complete, intact checkpoint; else what is wrong.</summary>
    private static string? Verify(string folder, out CheckpointInfo? info)
    {
        info = null;
        var infoPath = Path.Combine(folder, InfoFile);
        if (!File.Exists(infoPath)) return $"it has no {InfoFile} (it was not written completely)";
        try
        {
            info = JsonSerializer.Deserialize<CheckpointInfo>(File.ReadAllText(infoPath), Json.Options);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            return $"{InfoFile} is not a checkpoint description ({e.Message})";
        }
        if (info is null || info.Files.Count == 0) return $"{InfoFile} is not a checkpoint description";
        if (info.FormatVersion > CheckpointInfo.CurrentFormat)
            return $"it was written in checkpoint format {info.FormatVersion} by a newer MLNetDeep; this version reads format {CheckpointInfo.CurrentFormat}";
        foreach (var (name, expected) in info.Files)
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) return $"{name} is missing";
            long length = new FileInfo(path).Length;
            if (length != expected.Bytes) return $"{name} has {length} bytes, expected {expected.Bytes}";
            if (Record(path).Sha256 != expected.Sha256) return $"{name} does not match its checksum";
        }
        return null;
    }

    private static FileRecord Record(string path)
    {
        using var fs = File.OpenRead(path);
        return new FileRecord(fs.Length, Convert.ToHexString(SHA256.HashData(fs)));
    }

    /// <summary>A write interrupted between the two renames leaves no latest/ but a complete next folder: promote it.</summary>
    private static void RecoverInterruptedRotation(string directory)
    {
        if (!Directory.Exists(directory) || Directory.Exists(SlotFolder(directory, CheckpointSlot.Latest))) return;
        var complete = Directory.GetDirectories(directory, NextPrefix + "*").FirstOrDefault(d => Verify(d, out _) is null);
        if (complete is not null) Directory.Move(complete, SlotFolder(directory, CheckpointSlot.Latest));
    }
}

/// <summary>A checkpoint's files don't match what its info.json recorded; the message names the file and the way out.</summary>
public sealed class CheckpointDamagedException : IOException
{
    internal CheckpointDamagedException(string message) : base(message) { }
}
