using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Datasets;

/// <summary>One Fashion-MNIST image: 784 pixels (row-major 28×28) and its class name.</summary>
public sealed class FashionMnistImage
{
    /// <summary>Pixels, scaled to [0, 1] unless loaded with scale: false (then 0–255).</summary>
    [VectorType(FashionMnist.Pixels)]
    public float[] Features { get; set; } = Array.Empty<float>();

    /// <summary>Class name, e.g. "Sneaker".</summary>
    public string Label { get; set; } = "";
}

/// <summary>One Fashion-MNIST image as bytes: 784 raw pixels 0–255 (as <c>ExtractPixels(outputAsFloatArray: false)</c> gives them) and its class name.</summary>
public sealed class FashionMnistByteImage
{
    /// <summary>Pixels 0–255, row-major 28×28.</summary>
    [VectorType(FashionMnist.Pixels)]
    public byte[] Features { get; set; } = Array.Empty<byte>();

    /// <summary>Class name, e.g. "Sneaker".</summary>
    public string Label { get; set; } = "";
}

/// <summary>
/// Reads Fashion-MNIST (Xiao et al., 2017: 60k train / 10k test 28×28 grey images of 10 clothing classes)
/// from its idx files, as installed by Debian's <c>dataset-fashion-mnist</c> package.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package puts the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";
    /// <summary>Pixels per image.</summary>
    public const int Pixels = 28 * 28;

    /// <summary>Class names in label order 0–9.</summary>
    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>Reads the training (60,000) or test (10,000) split; <paramref name="take"/> limits the count (first rows).</summary>
    public static List<FashionMnistImage> Read(bool train, int? take = null, bool scale = true, string? directory = null)
    {
        var (labels, images) = ReadSplit(train, take, directory);
        int n = labels.Length;
        var result = new List<FashionMnistImage>(n);
        float factor = scale ? 1f / 255f : 1f;
        for (int i = 0; i < n; i++)
        {
            var px = new float[Pixels];
            for (int j = 0; j < Pixels; j++) px[j] = images[i * Pixels + j] * factor;
            result.Add(new FashionMnistImage { Features = px, Label = ClassNames[labels[i]] });
        }
        return result;
    }

    /// <summary>The split with its pixels as bytes 0–255 (a quarter of the memory of floats); <paramref name="take"/> limits the count (first rows).</summary>
    public static List<FashionMnistByteImage> ReadBytes(bool train, int? take = null, string? directory = null)
    {
        var (labels, images) = ReadSplit(train, take, directory);
        var result = new List<FashionMnistByteImage>(labels.Length);
        for (int i = 0; i < labels.Length; i++)
            result.Add(new FashionMnistByteImage { Features = images.AsSpan(i * Pixels, Pixels).ToArray(), Label = ClassNames[labels[i]] });
        return result;
    }

    /// <summary>The split as an IDataView with columns Features (Vector&lt;Byte&gt;[784], 0–255) and Label (String).</summary>
    public static IDataView LoadBytes(MLContext mlContext, bool train, int? take = null, string? directory = null)
        => mlContext.Data.LoadFromEnumerable(ReadBytes(train, take, directory));

    private static (byte[] Labels, byte[] Images) ReadSplit(bool train, int? take, string? directory)
    {
        directory ??= DebianDirectory;
        string prefix = train ? "train" : "t10k";
        var imagesPath = Find(directory, $"{prefix}-images-idx3-ubyte");
        var labelsPath = Find(directory, $"{prefix}-labels-idx1-ubyte");
        var labels = ReadIdx(labelsPath, 2049, take, out _);
        var images = ReadIdx(imagesPath, 2051, take, out int rowSize);
        if (rowSize != Pixels) throw new InvalidDataException($"'{imagesPath}' holds {rowSize}-pixel images; Fashion-MNIST's are {Pixels}.");
        return (labels, images);
    }

    /// <summary>The split as an IDataView with columns Features (Vector&lt;Single&gt;[784]) and Label (String).</summary>
    public static IDataView Load(MLContext mlContext, bool train, int? take = null, bool scale = true, string? directory = null)
        => mlContext.Data.LoadFromEnumerable(Read(train, take, scale, directory));

    private static string Find(string directory, string name)
    {
        foreach (var candidate in new[] { Path.Combine(directory, name + ".gz"), Path.Combine(directory, name) })
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException(
            $"Fashion-MNIST file '{name}(.gz)' not found in '{directory}'. On Debian/Ubuntu install it with " +
            "'apt-get install dataset-fashion-mnist' (or run scripts/setup.sh), or pass the folder holding the idx files.", name);
    }

    private static byte[] ReadIdx(string path, int expectedMagic, int? take, out int rowSize)
    {
        using Stream file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var r = new BinaryReader(s);
        int magic = ReadBigEndian(r);
        if (magic != expectedMagic) throw new InvalidDataException($"'{path}' is not an idx file of the expected kind (magic {magic}, expected {expectedMagic}).");
        int count = ReadBigEndian(r);
        rowSize = 1;
        for (int d = 1; d < (magic & 0xFF); d++) rowSize *= ReadBigEndian(r);
        int n = Math.Min(count, take ?? count);
        var data = r.ReadBytes(n * rowSize);
        if (data.Length != n * rowSize) throw new InvalidDataException($"'{path}' is truncated.");
        return data;
    }

    private static int ReadBigEndian(BinaryReader r)
    {
        var b = r.ReadBytes(4);
        return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    }
}
