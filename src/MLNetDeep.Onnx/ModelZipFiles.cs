using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using MLNetDeep.Persistence;

namespace MLNetDeep.Onnx;

/// <summary>
/// Saving and loading ML.NET model zips more safely than <c>mlContext.Model.Save</c>/<c>Load</c> do on their own.
/// ML.NET writes the zip in place, so a save that fails half-way (a full disk, a crash) destroys the model that was there;
/// <see cref="SaveAtomic"/> writes a temporary file next to it and renames it into place, as MLNetDeep's own model files
/// are written. ML.NET's loader reports a damaged zip as nested TargetInvocationExceptions; <see cref="LoadChecked"/> checks
/// every entry first and names the file and the damaged part.
/// </summary>
public static class ModelZipFiles
{
    /// <summary>
    /// <c>mlContext.Model.Save</c>, written atomically: into a temporary file in the same folder, flushed to disk, then renamed
    /// over <paramref name="path"/>. If anything fails, the file that was at <paramref name="path"/> is left as it was.
    /// </summary>
    public static void SaveAtomic(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        AtomicFile.Write(path, stream => catalog.Save(model, inputSchema, stream));
    }

    /// <summary>
    /// <c>mlContext.Model.Load</c> with clear errors: a missing file, a file that is not a zip, an entry whose bytes are
    /// damaged (CRC or compression errors) and a part ML.NET can't rebuild are each reported with the file's path, the
    /// entry, and the fix, instead of nested TargetInvocationExceptions.
    /// </summary>
    public static ITransformer LoadChecked(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No ML.NET model zip at '{path}'.", path);
        CheckEntries(path);
        try
        {
            return catalog.Load(path, out inputSchema);
        }
        catch (Exception e) when (OnnxRuntimeNatives.IsMissing(e))
        {
            throw OnnxRuntimeNatives.Missing($"Loading '{path}' (its OnnxTransformer)", e);
        }
        catch (Exception e) when (e is TargetInvocationException or InvalidOperationException or InvalidDataException or FormatException)
        {
            var inner = e;
            while (inner is TargetInvocationException { InnerException: { } next }) inner = next;
            throw new InvalidDataException(
                $"ML.NET can't rebuild the model in '{path}': {inner.GetType().Name}: {inner.Message} " +
                "If the pipeline holds MLNetDeep models, reference MLNetDeep.Onnx and Microsoft.ML.OnnxRuntime in this application; " +
                "otherwise save the model again (mlContext.Model.SaveAtomic) from the training run.", inner);
        }
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(i =>
    {
        uint c = (uint)i;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The zip format's CRC-32 (IEEE 802.3), continued over <paramref name="bytes"/>.</summary>
    private static uint Crc32(uint crc, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>Reads every entry to its end, so a damaged one is found before ML.NET's loader trips over it.</summary>
    private static void CheckEntries(string path)
    {
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not an ML.NET model zip (it is not a readable zip file: {e.Message}). " +
                                           "Models saved with DeepTransformer.Save load with DeepTransformer.Load.", e);
        }
        using (zip)
        {
            var buffer = new byte[81920];
            foreach (var entry in zip.Entries)
            {
                string? problem;
                try
                {
                    using var s = entry.Open();
                    uint crc = 0xFFFFFFFFu;
                    int n;
                    while ((n = s.Read(buffer, 0, buffer.Length)) > 0) crc = Crc32(crc, buffer.AsSpan(0, n));
                    problem = ~crc == entry.Crc32 ? null : "its bytes don't match the zip's CRC-32 checksum";
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    problem = e.Message;
                }
                if (problem is not null)
                    throw new InvalidDataException(
                        $"The model zip '{path}' is damaged: its entry '{entry.FullName}' can't be read ({problem}). " +
                        "Restore the file from a backup or save the model again; mlContext.Model.SaveAtomic never leaves a half-written zip.");
            }
        }
    }
}
