using System.Diagnostics;
using MLNetDeep.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>The raw TorchSharp side of the estimator-vs-raw benchmarks: tensors built up front and a plain training loop.</summary>
internal static class RawLoop
{
    /// <summary>Fashion-MNIST images as a feature tensor of <paramref name="shape"/> per row and class-index labels.</summary>
    public static (Tensor X, Tensor Y) Tensors(List<FashionMnistImage> images, params long[] shape)
    {
        var x = new float[images.Count * FashionMnist.Pixels];
        var y = new long[images.Count];
        var names = FashionMnist.ClassNames.ToList();
        for (int i = 0; i < images.Count; i++)
        {
            images[i].Features.CopyTo(x, i * FashionMnist.Pixels);
            y[i] = names.IndexOf(images[i].Label);
        }
        return (tensor(x, new long[] { images.Count }.Concat(shape).ToArray()), tensor(y));
    }

    /// <summary>Trains <paramref name="net"/> with Adam 1e-3 and cross-entropy over shuffled mini-batches; returns rows/s.</summary>
    public static double Train(nn.Module<Tensor, Tensor> net, Tensor x, Tensor y, int epochs, int batch, double? clipNorm = null)
    {
        var parameters = net.parameters().ToList();
        using var opt = torch.optim.Adam(parameters, 1e-3);
        long n = x.shape[0];
        var sw = Stopwatch.StartNew();
        net.train();
        for (int e = 0; e < epochs; e++)
        {
            using var perm = torch.randperm(n);
            for (long s = 0; s < n; s += batch)
            {
                using var scope = NewDisposeScope();
                var idx = perm.narrow(0, s, Math.Min(batch, n - s));
                opt.zero_grad();
                var loss = nn.functional.cross_entropy(net.call(x.index_select(0, idx)), y.index_select(0, idx));
                loss.backward();
                if (clipNorm is double clip) nn.utils.clip_grad_norm_(parameters, clip);
                opt.step();
                loss.item<float>();
            }
        }
        return n * epochs / sw.Elapsed.TotalSeconds;
    }
}
