// Shared by samples/PretrainedImages, benchmarks/MLNetDeep.ImageBenchmarks and tests/MLNetDeep.ImageTests (linked into
// each): a folder of real clip-art PNGs made from Debian's openclipart-png, ready for LoadImages.
using MLNetDeep.Datasets;
using MLNetDeep.Persistence;
using SkiaSharp;

namespace MLNetDeep.Samples.Shared;

/// <summary>
/// A small real image set in class folders: the clip art of <see cref="OpenClipArt.Split"/>, each drawing put on a
/// white background (ML.NET's ExtractPixels drops the alpha channel, and openclipart's transparent pixels are black, so
/// black strokes would vanish) and cropped to the drawing, its longest side at most 256 pixels. Sizes and aspect ratios
/// stay mixed, as in a user's own folder. Files already made are reused.
/// </summary>
public static class ClipArtImages
{
    /// <summary>Writes (or reuses) the PNG files under <paramref name="folder"/>/train|test/CATEGORY/ and returns them.</summary>
    public static (List<ImageFile> Train, List<ImageFile> Test) Prepare(int trainPerClass, int testPerClass, string? folder = null, int seed = 1)
    {
        folder ??= Path.Combine(Path.GetTempPath(), "mlnetdeep-clipart");
        var (train, test) = OpenClipArt.Split(trainPerClass, testPerClass, seed: seed);
        return (Write(train, Path.Combine(folder, "train")), Write(test, Path.Combine(folder, "test")));
    }

    private static List<ImageFile> Write(List<ImageFile> files, string folder) => files.Select(f =>
    {
        var name = Path.GetFileNameWithoutExtension(f.ImagePath) + "_" + (uint)f.ImagePath.Aggregate(17, (h, c) => unchecked(h * 31 + c)) + ".png";
        var path = Path.Combine(folder, f.Label, name);
        if (!File.Exists(path)) AtomicFile.WriteAllBytes(path, OnWhite(f.ImagePath));
        return new ImageFile { ImagePath = path, Label = f.Label };
    }).ToList();

    /// <summary>The drawing cropped to its non-transparent pixels, on white, longest side ≤ 256, as PNG bytes.</summary>
    private static byte[] OnWhite(string source)
    {
        using var original = SKBitmap.Decode(source) ?? throw new InvalidDataException($"'{source}' is not a readable image.");
        using var src = original.ColorType == SKColorType.Rgba8888 ? original.Copy() : original.Copy(SKColorType.Rgba8888);
        int w = src.Width, h = src.Height, left = w, top = h, right = -1, bottom = -1;
        var pixels = src.Pixels;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (pixels[y * w + x].Alpha > 8)
                {
                    left = Math.Min(left, x); right = Math.Max(right, x);
                    top = Math.Min(top, y); bottom = Math.Max(bottom, y);
                }
        var crop = right < 0 ? new SKRectI(0, 0, w, h) : new SKRectI(left, top, right + 1, bottom + 1);
        double scale = Math.Min(1.0, 256.0 / Math.Max(crop.Width, crop.Height));
        int outW = Math.Max(1, (int)Math.Round(crop.Width * scale)), outH = Math.Max(1, (int)Math.Round(crop.Height * scale));
        using var result = new SKBitmap(outW, outH, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using (var canvas = new SKCanvas(result))
        using (var paint = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = true })
        {
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(src, crop, new SKRect(0, 0, outW, outH), paint);
        }
        using var image = SKImage.FromBitmap(result);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
