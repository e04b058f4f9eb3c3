// Shared by benchmarks/MLNetDeep.ImageBenchmarks and tests/MLNetDeep.ImageTests (linked into each): a small folder of
// real Fashion-MNIST images written as PNG files, ready for LoadImages.
using MLNetDeep.Datasets;
using MLNetDeep.Persistence;
using SkiaSharp;

namespace MLNetDeep.Samples.Shared;

/// <summary>
/// A small real image set in class folders: a seeded, class-balanced choice of Fashion-MNIST images (Debian's
/// dataset-fashion-mnist), each written as a 28×28 grey PNG file, training images from its training split and test
/// images from its test split. Far from ImageNet (tiny grey photos of clothes on black), it is a set where an
/// ImageNet backbone's frozen features fit less well than on drawings or photos. Files already made are reused.
/// </summary>
public static class FashionMnistImages
{
    /// <summary>Writes (or reuses) the PNG files under <paramref name="folder"/>/train|test/CLASS/ and returns them.</summary>
    public static (List<ImageFile> Train, List<ImageFile> Test) Prepare(int trainPerClass, int testPerClass, string? folder = null, int seed = 1)
    {
        if (trainPerClass <= 0) throw new ArgumentOutOfRangeException(nameof(trainPerClass), trainPerClass, $"trainPerClass must be > 0. Received: {trainPerClass}");
        if (testPerClass < 0) throw new ArgumentOutOfRangeException(nameof(testPerClass), testPerClass, $"testPerClass must be >= 0. Received: {testPerClass}");
        folder ??= Path.Combine(Path.GetTempPath(), "mlnetdeep-fashion-png");
        return (Write(FashionMnist.ReadBytes(train: true), trainPerClass, seed, Path.Combine(folder, "train")),
                Write(FashionMnist.ReadBytes(train: false), testPerClass, seed, Path.Combine(folder, "test")));
    }

    private static List<ImageFile> Write(List<FashionMnistByteImage> images, int perClass, int seed, string folder)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, images.Count).OrderBy(_ => random.Next()).ToList();
        var chosen = order.GroupBy(i => images[i].Label).OrderBy(g => g.Key, StringComparer.Ordinal)
            .SelectMany(g =>
            {
                var take = g.Take(perClass).ToList();
                if (take.Count < perClass) throw new ArgumentException($"Class '{g.Key}' has {take.Count} images; {perClass} were asked for.", nameof(perClass));
                return take;
            });
        return chosen.Select(i =>
        {
            // "T-shirt/top" → folder "T-shirt_top"; the index keeps the file of the same image the same across runs
            var label = images[i].Label;
            var path = Path.Combine(folder, label.Replace('/', '_'), $"{i:D5}.png");
            if (!File.Exists(path)) AtomicFile.WriteAllBytes(path, Png(images[i].Features));
            return new ImageFile { ImagePath = path, Label = label };
        }).ToList();
    }

    private static byte[] Png(byte[] pixels)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
