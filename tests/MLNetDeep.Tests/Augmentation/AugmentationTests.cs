using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Augmentation;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Tests.Control;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Augmentation;

[Trait("Category", "Training")]
public class AugmentationTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 1000, 2000));
    private readonly ITestOutputHelper _out;

    public AugmentationTests(ITestOutputHelper output) => _out = output;

    private static Tensor Images() => arange(2 * 1 * 5 * 6, dtype: ScalarType.Float32).view(2, 1, 5, 6);

    [Fact]
    public void Flip_and_shift_move_pixels_exactly_and_the_input_is_left_alone()
    {
        random.manual_seed(1);
        var x = Images();
        var before = ControlKit.Flat(x);
        Assert.Equal(ControlKit.Flat(x.flip(3)), ControlKit.Flat(new ImageAugmentation { HorizontalFlipProbability = 1 }.Apply(x)));
        Assert.Equal(before, ControlKit.Flat(new ImageAugmentation { HorizontalFlipProbability = 0 }.Apply(x)));
        Assert.Equal(before, ControlKit.Flat(x));

        // Shifts are whole pixels: every output pixel is an input pixel of the same image or a zero from the padding.
        var shifted = new ImageAugmentation { MaxShiftPixels = 2 }.Apply(x);
        for (int i = 0; i < 2; i++)
        {
            var src = ControlKit.Flat(x[i]).ToHashSet();
            Assert.All(ControlKit.Flat(shifted[i]), v => Assert.True(v == 0 || src.Contains(MathF.Round(v)) && Math.Abs(v - MathF.Round(v)) < 1e-3, $"{v}"));
        }
        // A shift of at most one pixel is exactly one of the nine zero-filled translations.
        var img = x[0, 0];
        for (int trial = 0; trial < 10; trial++)
        {
            var y = ControlKit.Flat(new ImageAugmentation { MaxShiftPixels = 1 }.Apply(x)[0, 0]);
            bool any = false;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    any |= ControlKit.Flat(Translate(img, dy, dx)).Zip(y).All(p => Math.Abs(p.First - p.Second) < 1e-3);
            Assert.True(any, "not a whole-pixel translation");
        }
        var noisy = new ImageAugmentation { NoiseStd = 0.5 }.Apply(zeros(64, 1, 28, 28));
        Assert.InRange(noisy.std().item<float>(), 0.48, 0.52);
    }

    [Fact]
    public void FillMode_fills_what_a_shift_uncovers_with_zeros_the_edge_or_the_mirrored_image()
    {
        random.manual_seed(3);
        var white = ones(16, 1, 10, 10);
        var zeroFilled = ControlKit.Flat(new ImageAugmentation { MaxShiftPixels = 3 }.Apply(white));
        Assert.Contains(zeroFilled, v => v == 0); // 16 images, each shifted by 0 with chance 1/49
        var edge = ControlKit.Flat(new ImageAugmentation { MaxShiftPixels = 3, MaxRotationDegrees = 15, FillMode = AugmentationFillMode.Nearest }.Apply(white));
        Assert.All(edge, v => Assert.Equal(1f, v, 5)); // a drawing on white stays on white

        // Reflect: a whole-pixel shift of a column ramp gives values of the ramp only, never the zero padding
        var ramp = arange(1, 11, dtype: ScalarType.Float32).view(1, 1, 1, 10).expand(16, 1, 10, 10).contiguous();
        var reflected = ControlKit.Flat(new ImageAugmentation { MaxShiftPixels = 3, FillMode = AugmentationFillMode.Reflect }.Apply(ramp));
        Assert.All(reflected, v => Assert.True(v is > 1f - 1e-3f and < 10f + 1e-3f && Math.Abs(v - MathF.Round(v)) < 1e-3, $"{v}"));
        Assert.NotEqual(ControlKit.Flat(ramp), reflected); // the images did move

        var bad = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Augmentation = new ImageAugmentation { MaxShiftPixels = 1, FillMode = (AugmentationFillMode)7 } };
        Assert.Contains("Received: FillMode=7", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(bad, Small.Value.Train)).Message);
    }

    [Fact]
    public void Rotation_and_zoom_change_images_only_with_their_probability()
    {
        random.manual_seed(2);
        var x = zeros(8, 1, 28, 28);
        x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(4, 24), TensorIndex.Slice(10, 14)] = tensor(1f); // a vertical bar
        var off = new ImageAugmentation { MaxRotationDegrees = 30, MaxScale = 0.2, GeometricProbability = 0 }.Apply(x);
        Assert.Equal(ControlKit.Flat(x), ControlKit.Flat(off));
        var on = new ImageAugmentation { MaxRotationDegrees = 30, MaxScale = 0.2 }.Apply(x);
        for (int i = 0; i < 8; i++)
        {
            double diff = (on[i] - x[i]).abs().sum().item<float>(), mass = on[i].sum().item<float>();
            Assert.True(diff > 1, $"image {i} unchanged");
            Assert.InRange(mass, 80 * 0.6, 80 * 1.5); // the bar's 80 pixels, rotated/zoomed, not lost
        }
    }

    private static Tensor Translate(Tensor img, int dy, int dx)
    {
        long h = img.shape[0], w = img.shape[1];
        var padded = nn.functional.pad(img.view(1, 1, h, w), new long[] { 1, 1, 1, 1 }).view(h + 2, w + 2);
        return padded.narrow(0, 1 - dy, h).narrow(1, 1 - dx, w);
    }

    [Fact]
    public void Augmentation_changes_training_batches_but_never_validation_or_scoring()
    {
        var options = ControlKit.Mlp(new[] { 32 }, epochs: 1);
        // Destroys training inputs; if validation were augmented its accuracy would not match clean scoring.
        options.Augmentation = new ImageAugmentation { NoiseStd = 50, HorizontalFlipProbability = 0.5, MaxShiftPixels = 3 };
        using var model = ControlKit.Fit(options, Small.Value.Train, Small.Value.Test);
        double scored = ControlKit.Accuracy(Ml, model, Small.Value.Test);
        Assert.Equal(model.History.Epochs[^1].ValidationMetrics["accuracy"], scored, 6);
        var a = model.Transform(Small.Value.Test).GetColumn<float[]>("Score").Take(50).SelectMany(s => s).ToArray();
        var b = model.Transform(Small.Value.Test).GetColumn<float[]>("Score").Take(50).SelectMany(s => s).ToArray();
        Assert.Equal(a, b);

        options.Augmentation = new ImageAugmentation { MaxScale = 1.5 };
        Assert.Contains("Received: MaxScale=1.5", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, Small.Value.Train)).Message);
    }

    [Fact]
    public void Flip_keeps_test_accuracy_within_two_points_on_1000_images()
    {
        double Accuracy(ImageAugmentation? aug)
        {
            var options = ControlKit.Mlp(new[] { 64 }, epochs: 8);
            options.Layers = new List<CnnLayer> { new ConvBlock(16, 3, PoolingKind.Max) };
            options.Head = new DenseHead { HiddenSizes = new() { 64 }, Dropout = 0.3, InputDropout = 0 };
            options.Augmentation = aug;
            using var model = ControlKit.Fit(options, Small.Value.Train);
            return ControlKit.Accuracy(Ml, model, Small.Value.Test);
        }
        double plain = Accuracy(null), augmented = Accuracy(new ImageAugmentation { HorizontalFlipProbability = 0.5 });
        _out.WriteLine($"1000 training images, 8 epochs, 2000 test images: plain {plain:F4}, flip {augmented:F4}");
        // A guard that augmentation does not break training, not proof that it helps: measured plain 0.8100, flip 0.7955
        // (0.8210 vs 0.8210 with an earlier shuffle order); shifts lowered accuracy at this budget (docs/augmentation.md).
        Assert.True(augmented >= plain - 0.02, $"augmented {augmented:F4} < plain {plain:F4} - 0.02");
    }
}
