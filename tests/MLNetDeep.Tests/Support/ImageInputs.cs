using static TorchSharp.torch;

namespace MLNetDeep.Tests.Support;

/// <summary>Real images shaped for ImageNet networks: Fashion-MNIST test images resized to 224×224 and repeated over 3 channels.</summary>
public static class ImageInputs
{
    /// <summary>
    /// <paramref name="n"/> rows of 3×224×224 floats (row-major), as ML.NET's DnnImageFeaturizer feeds ResNet18:
    /// pixel values 0–255 (bilinear resize), then ResNetPreprocess.onnx's per-channel mean subtraction
    /// (B 103.939, G 116.779, R 123.68 → here the same grey value in every channel minus that channel's mean).
    /// </summary>
    public static float[][] ResNet(int n, int skip = 0)
    {
        var images = TestData.TestImages(skip + n).Skip(skip).ToList();
        using var scope = NewDisposeScope();
        var grey = tensor(images.SelectMany(i => i.Features).ToArray()).reshape(n, 1, 28, 28) * 255f;
        var big = nn.functional.interpolate(grey, new long[] { 224, 224 }, mode: InterpolationMode.Bilinear, align_corners: false);
        var mean = tensor(new[] { 103.939f, 116.779f, 123.68f }).reshape(1, 3, 1, 1);
        var rgb = big.expand(n, 3, 224, 224) - mean;
        var flat = rgb.contiguous().reshape(n, -1);
        return Enumerable.Range(0, n).Select(i => flat[i].data<float>().ToArray()).ToArray();
    }
}
