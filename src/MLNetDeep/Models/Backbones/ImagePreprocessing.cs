namespace MLNetDeep.Models.Backbones;

/// <summary>The channel order a pretrained network was trained with.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue planes (torchvision, Keras' "torch" mode; ExtractPixels' default order).</summary>
    Rgb,
    /// <summary>Blue, green, red planes (Caffe, CNTK; the ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18).</summary>
    Bgr,
}

/// <summary>
/// What a pretrained network expects its pixels to be, applied inside the network (so training, scoring, the saved
/// model and the ONNX export all do the same). The feature column always holds what
/// <c>ExtractPixels(scaleImage: 1f / 255)</c> writes: red, green and blue planes (channels × height × width) with values
/// in 0–1; a single grey plane is repeated to three channels. The network then sees
/// <c>(pixels × PixelScale, reordered to ChannelOrder, − Mean) / Std</c>, per channel.
/// </summary>
public sealed class ImagePreprocessing
{
    /// <summary>Multiplies the 0–1 pixels first: 255 for networks trained on 0–255 values (Caffe, CNTK), 1 for 0–1 (torchvision). Default 1.</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>The channel order the network wants. Default <see cref="ChannelOrder.Rgb"/>.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>Subtracted per channel (in <see cref="ChannelOrder"/>) after scaling. Null = nothing.</summary>
    public float[]? Mean { get; init; }

    /// <summary>Divides per channel (in <see cref="ChannelOrder"/>) after subtracting <see cref="Mean"/>. Null = 1.</summary>
    public float[]? Std { get; init; }

    /// <summary>
    /// True when a whole mean image (channels × height × width, resized bilinearly to the input size) is subtracted
    /// instead of <see cref="Mean"/>; set by <see cref="Backbone.ResNet18"/>, which reads it from the package's
    /// ResNetPreprocess.onnx. The image itself is kept in the model's weights, not here.
    /// </summary>
    public bool MeanImage { get; init; }

    /// <summary>torchvision's ImageNet models: RGB, 0–1, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).</summary>
    public static ImagePreprocessing TorchvisionImageNet() => new()
    {
        PixelScale = 1f,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = new[] { 0.485f, 0.456f, 0.406f },
        Std = new[] { 0.229f, 0.224f, 0.225f },
    };

    /// <summary>Caffe-style ImageNet models: BGR, 0–255, per-channel means (103.939, 116.779, 123.68), no scaling by a deviation.</summary>
    public static ImagePreprocessing CaffeImageNet() => new()
    {
        PixelScale = 255f,
        ChannelOrder = ChannelOrder.Bgr,
        Mean = new[] { 103.939f, 116.779f, 123.68f },
    };

    internal void Validate(int channels)
    {
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale))
            throw new ArgumentOutOfRangeException(nameof(PixelScale), PixelScale, $"ImagePreprocessing.PixelScale must be a finite number > 0 (255 for networks trained on 0-255 pixels, 1 for 0-1). Received: PixelScale={PixelScale}");
        if (!Enum.IsDefined(ChannelOrder))
            throw new ArgumentOutOfRangeException(nameof(ChannelOrder), ChannelOrder, $"ImagePreprocessing.ChannelOrder is not a known order. Received: ChannelOrder={ChannelOrder}");
        if (ChannelOrder == ChannelOrder.Bgr && channels != 3)
            throw new ArgumentException($"ImagePreprocessing.ChannelOrder = Bgr needs a network with 3 input channels; this one takes {channels}. Use ChannelOrder.Rgb.", nameof(ChannelOrder));
        Check(Mean, nameof(Mean), channels, positive: false);
        Check(Std, nameof(Std), channels, positive: true);
        if (MeanImage && Mean is not null)
            throw new ArgumentException("ImagePreprocessing: set Mean or MeanImage, not both.", nameof(Mean));
    }

    private static void Check(float[]? values, string name, int channels, bool positive)
    {
        if (values is null) return;
        if (values.Length != channels)
            throw new ArgumentException($"ImagePreprocessing.{name} needs one value per input channel of the network ({channels}). Received: {values.Length} values ({string.Join(", ", values)}).", name);
        foreach (var v in values)
            if (!float.IsFinite(v) || (positive && !(v > 0)))
                throw new ArgumentOutOfRangeException(name, v, $"ImagePreprocessing.{name} values must be finite{(positive ? " and > 0" : "")}. Received: {string.Join(", ", values)}");
    }

    /// <summary>One line for logs and docs, e.g. "x·255, RGB→BGR, minus the mean image".</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (PixelScale != 1f) parts.Add(FormattableString.Invariant($"x·{PixelScale:G6}"));
        if (ChannelOrder == ChannelOrder.Bgr) parts.Add("RGB→BGR");
        if (MeanImage) parts.Add("minus the mean image");
        if (Mean is not null) parts.Add(FormattableString.Invariant($"minus ({string.Join(", ", Mean.Select(m => m.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)))})"));
        if (Std is not null) parts.Add(FormattableString.Invariant($"divided by ({string.Join(", ", Std.Select(s => s.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)))})"));
        return parts.Count == 0 ? "pixels as they are (0-1)" : string.Join(", ", parts);
    }
}
