using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MLNetDeep.Models;
using TorchSharp;

namespace MLNetDeep.Persistence;

/// <summary>
/// MLNetDeep's own model format: magic "MLNDEEP1", format version, JSON description, TorchSharp weights,
/// and a SHA-256 of everything before it, so a truncated, corrupt or foreign file is refused with a clear message.
/// Writes go to a temporary file in the same folder and are renamed into place.
/// </summary>
internal static class ModelFile
{
    public const int CurrentFormatVersion = 1;
    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("MLNDEEP1");

    public static void Write(Stream destination, ModelDescription description, torch.nn.Module network)
    {
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(CurrentFormatVersion);
            var json = JsonSerializer.SerializeToUtf8Bytes(description, Json.Options);
            w.Write(json.Length);
            w.Write(json);
            using var weights = new MemoryStream();
            using (var ww = new BinaryWriter(weights, Encoding.UTF8, leaveOpen: true)) network.save(ww);
            w.Write(weights.Length);
            w.Write(weights.GetBuffer(), 0, (int)weights.Length);
        }
        var hash = SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length));
        destination.Write(body.GetBuffer(), 0, (int)body.Length);
        destination.Write(hash);
    }

    public static void WriteAtomic(string path, ModelDescription description, torch.nn.Module network) =>
        AtomicFile.Write(path, fs => Write(fs, description, network));

    /// <summary>Reads the description and returns it with a loader of the weights into a built network.</summary>
    public static (ModelDescription Description, byte[] Weights) Read(Stream source, string what)
    {
        using var all = new MemoryStream();
        source.CopyTo(all);
        var bytes = all.GetBuffer().AsSpan(0, (int)all.Length);
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic))
            throw new InvalidDataException($"{what} is not an MLNetDeep model file (it does not start with 'MLNDEEP1'). " +
                                           "ML.NET model zips load with mlContext.Model.Load; MLNetDeep models with DeepTransformer.Load.");
        if (bytes.Length < Magic.Length + 4 + 32)
            throw new InvalidDataException($"{what} is truncated ({bytes.Length} bytes). Save the model again.");
        var content = bytes[..^32];
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(bytes[^32..]))
            throw new InvalidDataException($"{what} is corrupt or truncated (its checksum does not match). Save the model again or restore it from a backup.");
        using var r = new BinaryReader(new MemoryStream(content.ToArray()));
        r.ReadBytes(Magic.Length);
        int version = r.ReadInt32();
        if (version > CurrentFormatVersion)
            throw new InvalidDataException($"{what} was written in MLNetDeep model format {version}; this version reads up to {CurrentFormatVersion}. Update MLNetDeep.");
        int jsonLength = r.ReadInt32();
        ModelDescription description;
        try
        {
            description = JsonSerializer.Deserialize<ModelDescription>(r.ReadBytes(jsonLength), Json.Options)
                          ?? throw new InvalidDataException($"{what} has an empty model description.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{what} has a model description MLNetDeep can't read ({e.Message}). " +
                                           "It was written by another tool or a newer MLNetDeep, or edited by hand.", e);
        }
        long weightLength = r.ReadInt64();
        var weights = r.ReadBytes((int)weightLength);
        return (description, weights);
    }

    public static void LoadWeights(DeepNetwork network, byte[] weights)
    {
        using var ms = new MemoryStream(weights);
        using var r = new BinaryReader(ms);
        network.load(r, strict: true);
    }
}
