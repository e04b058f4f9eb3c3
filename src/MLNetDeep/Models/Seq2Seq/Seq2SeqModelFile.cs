using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MLNetDeep.Persistence;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// Saves and loads a <see cref="Seq2SeqNetwork"/> on its own: magic "MLNDS2S1", the architecture as JSON, the TorchSharp
/// weights and a SHA-256 of everything before it (a truncated, corrupt or foreign file is refused with a clear
/// message). Written to a temporary file and renamed into place. A loaded network can be trained further (warm start).
/// </summary>
public static class Seq2SeqModelFile
{
    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("MLNDS2S1");

    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(Seq2SeqNetwork network, string path)
    {
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            var json = JsonSerializer.SerializeToUtf8Bytes<NetworkArchitecture>(network.Architecture, Json.Options);
            w.Write(json.Length);
            w.Write(json);
            network.save(w);
        }
        var content = body.ToArray();
        Onnx.OnnxExporter.WriteAtomic(path, content.Concat(SHA256.HashData(content)).ToArray());
    }

    /// <summary>Reads a network written by <see cref="Save"/>.</summary>
    public static Seq2SeqNetwork Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Seq2seq model file '{path}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 4 + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"'{path}' is not an MLNetDeep seq2seq model file (it does not start with 'MLNDS2S1', or is too short to be one).");
        var content = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new InvalidDataException($"'{path}' is corrupt or truncated (its checksum does not match). Save the model again or restore it from a backup.");
        using var r = new BinaryReader(new MemoryStream(content.ToArray()));
        r.ReadBytes(Magic.Length);
        var arch = JsonSerializer.Deserialize<NetworkArchitecture>(r.ReadBytes(r.ReadInt32()), Json.Options) as Seq2SeqArchitecture
                   ?? throw new InvalidDataException($"'{path}' does not describe a seq2seq network.");
        var network = (Seq2SeqNetwork)arch.Build(arch.TargetVocabularySize ?? throw new InvalidDataException($"'{path}' has no TargetVocabularySize."), null);
        network.load(r, strict: true);
        network.eval();
        return network;
    }
}
