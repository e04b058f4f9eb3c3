using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Augmentation;

/// <summary>
/// Random image augmentation of training batches (never of validation or scoring): horizontal flips, shifts with
/// zero padding, small rotations and scaling, additive Gaussian noise. Each is drawn per image with its own
/// probability, from the seeded torch generator, so a run is reproducible. All off by default.
/// </summary>
public sealed class ImageAugmentation
{
    /// <summary>Probability of mirroring an image left–right. 0 = never. Don't use for images whose meaning changes when mirrored (digits, text).</summary>
    public double HorizontalFlipProbability { get; init; }

    /// <summary>Largest shift in pixels, up/down and left/right independently (uniform integers in [−s, s]); the uncovered border is filled as <see cref="FillMode"/> says. 0 = off.</summary>
    public int MaxShiftPixels { get; init; }

    /// <summary>Largest rotation in degrees (uniform in [−d, d]). 0 = off.</summary>
    public double MaxRotationDegrees { get; init; }

    /// <summary>Largest relative zoom (scale uniform in [1 − s, 1 + s]). 0 = off.</summary>
    public double MaxScale { get; init; }

    /// <summary>
    /// How the pixels a shift, rotation or zoom-out uncovers are filled. Default <see cref="AugmentationFillMode.Zeros"/>
    /// (black for pixels in 0–1); <see cref="AugmentationFillMode.Nearest"/> repeats the edge pixels (drawings on a white
    /// background stay on white), <see cref="AugmentationFillMode.Reflect"/> mirrors the image at its edges (Keras' default).
    /// </summary>
    public AugmentationFillMode FillMode { get; init; } = AugmentationFillMode.Zeros;

    /// <summary>Probability that an image gets the geometric transform (shift, rotation, scale) at all. Default 1.</summary>
    public double GeometricProbability { get; init; } = 1.0;

    /// <summary>Standard deviation of additive Gaussian noise (in feature units, e.g. 0.05 for pixels in [0, 1]). 0 = off.</summary>
    public double NoiseStd { get; init; }

    /// <summary>Probability that an image gets noise. Default 1.</summary>
    public double NoiseProbability { get; init; } = 1.0;

    internal bool Geometric => MaxShiftPixels > 0 || MaxRotationDegrees > 0 || MaxScale > 0;

    internal void Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"Augmentation.{option} {rule}. Received: {option}={value}");
        }
        Require(HorizontalFlipProbability is >= 0 and <= 1, nameof(HorizontalFlipProbability), HorizontalFlipProbability, "must be in [0, 1]");
        Require(MaxShiftPixels >= 0, nameof(MaxShiftPixels), MaxShiftPixels, "must be >= 0 (e.g. 2)");
        Require(MaxRotationDegrees is >= 0 and <= 180, nameof(MaxRotationDegrees), MaxRotationDegrees, "must be in [0, 180] (e.g. 10)");
        Require(MaxScale is >= 0 and < 1, nameof(MaxScale), MaxScale, "must be in [0, 1) (e.g. 0.1)");
        Require(Enum.IsDefined(FillMode), nameof(FillMode), FillMode, "must be Zeros, Nearest or Reflect");
        Require(GeometricProbability is >= 0 and <= 1, nameof(GeometricProbability), GeometricProbability, "must be in [0, 1]");
        Require(NoiseStd >= 0 && double.IsFinite(NoiseStd), nameof(NoiseStd), NoiseStd, "must be a finite number >= 0 (e.g. 0.05)");
        Require(NoiseProbability is >= 0 and <= 1, nameof(NoiseProbability), NoiseProbability, "must be in [0, 1]");
    }

    /// <summary>Returns an augmented copy of a batch of images [B, C, H, W] (the input is not changed).</summary>
    public Tensor Apply(Tensor images)
    {
        if (images.dim() != 4)
            throw new ArgumentException($"Image augmentation needs a batch of images [B, C, H, W]. Received: shape [{string.Join(", ", images.shape)}]", nameof(images));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        var x = images;
        var dev = images.device;
        if (HorizontalFlipProbability > 0)
        {
            var flip = rand(b, device: dev).lt(HorizontalFlipProbability).view(b, 1, 1, 1);
            x = where(flip, x.flip(3), x);
        }
        if (Geometric && GeometricProbability > 0)
        {
            var apply = rand(b, device: dev).lt(GeometricProbability).to(ScalarType.Float32);
            var angle = (rand(b, device: dev) * 2 - 1) * (MaxRotationDegrees * Math.PI / 180) * apply;
            var scale = 1 + (rand(b, device: dev) * 2 - 1) * MaxScale * apply;
            // Integer pixel shifts; in affine_grid's normalised coordinates a pixel is 2 / size wide.
            var dx = randint(-MaxShiftPixels, MaxShiftPixels + 1, b, device: dev).to(ScalarType.Float32) * apply * (2.0 / w);
            var dy = randint(-MaxShiftPixels, MaxShiftPixels + 1, b, device: dev).to(ScalarType.Float32) * apply * (2.0 / h);
            // theta maps output coordinates to input ones: inverse rotation/zoom, then the shift.
            var cos = angle.cos() / scale;
            var sin = angle.sin() / scale;
            var theta = stack(new[] { cos, -sin, -dx, sin, cos, -dy }, 1).view(b, 2, 3).to(x.dtype);
            var grid = F.affine_grid(theta, new[] { b, x.shape[1], h, w }, align_corners: false);
            x = F.grid_sample(x, grid, GridSampleMode.Bilinear, FillMode switch
            {
                AugmentationFillMode.Nearest => GridSamplePaddingMode.Border,
                AugmentationFillMode.Reflect => GridSamplePaddingMode.Reflection,
                _ => GridSamplePaddingMode.Zeros,
            }, align_corners: false);
        }
        if (NoiseStd > 0 && NoiseProbability > 0)
        {
            var noisy = rand(b, device: dev).lt(NoiseProbability).to(x.dtype).view(b, 1, 1, 1);
            x = x + randn_like(x) * NoiseStd * noisy;
        }
        return (ReferenceEquals(x, images) ? x.clone() : x).MoveToOuterDisposeScope();
    }
}

/// <summary>How an augmentation fills the pixels a geometric transform uncovers.</summary>
public enum AugmentationFillMode
{
    /// <summary>Zero (black for pixels in 0–1).</summary>
    Zeros,
    /// <summary>The nearest edge pixel.</summary>
    Nearest,
    /// <summary>The image mirrored at its edges.</summary>
    Reflect,
}
