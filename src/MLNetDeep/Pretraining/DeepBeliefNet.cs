using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Pretraining;

/// <summary>
/// Greedy deep-belief-net pretraining (Hinton, Osindero &amp; Teh 2006) of the dense head's hidden layers: RBM i has the
/// layer's input as its visible units and the layer's units as its hidden units; it is trained on the data (RBM 0, on
/// what the layers below the head produce) or on the hidden probabilities of RBM i−1 (the classic stack: batch norm and
/// the network's own activation play no part). Its W and hidden bias then become the layer's weight and bias.
/// </summary>
internal static class DeepBeliefNet
{
    public static List<PretrainingLayerResult> Pretrain(DenseHeadLayers head, RbmOptions o, int epochs, Tensor features, int batchSize, int seed,
        Action<string>? log)
    {
        using var generator = new Generator((ulong)(uint)seed, head.Device);
        var results = new List<PretrainingLayerResult>();
        Tensor inputs;
        using (var scope = NewDisposeScope()) inputs = head.Forward(features, -1, head.IndexOf(head.Dense[0])).flatten(1).MoveToOuterDisposeScope();
        Tensor data = inputs; // the current RBM's training data: the inputs, then each RBM's hidden probabilities
        try
        {
            CheckVisibleData(inputs, o.Visible, log);
            for (int i = 0; i < head.Dense.Count; i++)
            {
                var layer = head.Dense[i];
                var linear = head.Linear(layer);
                var kind = i == 0 ? o.Visible : RbmVisibleUnits.Bernoulli;
                using var rbm = new Rbm(linear.weight!.shape[1], linear.weight.shape[0], kind, generator, head.Device);
                var (reconstruction, pll) = rbm.Train(data, o, epochs, batchSize, generator);
                using (no_grad())
                {
                    linear.weight.copy_(rbm.Weight);
                    linear.bias?.copy_(rbm.HiddenBias);
                }
                var result = new PretrainingLayerResult { Layer = DenseHeadLayers.FullName(layer), ReconstructionLoss = reconstruction, PseudoLogLikelihood = pll };
                results.Add(result);
                log?.Invoke($"pretrained {result.Layer} as an RBM ({kind} visible units): reconstruction MSE {LayerwisePretrainer.Curve(reconstruction)}" +
                            (pll.Count > 0 ? $", pseudo-log-likelihood {LayerwisePretrainer.Curve(pll)}" : ""));
                if (i + 1 < head.Dense.Count)
                {
                    var next = HiddenProbabilities(rbm, data, batchSize);
                    if (!ReferenceEquals(data, inputs)) data.Dispose();
                    data = next;
                }
            }
        }
        finally
        {
            if (!ReferenceEquals(data, inputs)) data.Dispose();
            inputs.Dispose();
        }
        return results;
    }

    /// <summary>p(h | v) for every row, in chunks (the next RBM's data).</summary>
    private static Tensor HiddenProbabilities(Rbm rbm, Tensor data, int batchSize)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long n = data.shape[0], chunk = Math.Max(batchSize, 4096);
        var parts = new List<Tensor>();
        for (long s = 0; s < n; s += chunk) parts.Add(rbm.HiddenProbabilities(data.narrow(0, s, Math.Min(chunk, n - s))));
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Bernoulli visible units model values in [0, 1]: anything outside is refused. Gaussian ones assume standardised
    /// features: far from mean 0 / standard deviation 1 gets a warning in the log.
    /// </summary>
    private static void CheckVisibleData(Tensor v, RbmVisibleUnits kind, Action<string>? log)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        static string S(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
        if (kind == RbmVisibleUnits.Bernoulli)
        {
            double min = v.min().ToDouble(), max = v.max().ToDouble();
            if (min < 0 || max > 1)
                throw new ArgumentOutOfRangeException(nameof(RbmOptions.Visible), kind,
                    $"Pretraining.Rbm.Visible = Bernoulli needs inputs in [0, 1] (probabilities, e.g. pixels scaled by 1/255). Received: inputs from {S(min)} to {S(max)}. " +
                    "Scale the features to [0, 1], or standardise them and set Visible = RbmVisibleUnits.Gaussian.");
        }
        else
        {
            var mean = v.mean(new long[] { 0 });
            var std = v.std(0, unbiased: false);
            double worstMean = mean.abs().max().ToDouble(), largestStd = std.max().ToDouble();
            if (worstMean > 0.5 || largestStd > 2)
                log?.Invoke($"warning: Pretraining.Rbm.Visible = Gaussian assumes standardised features (mean 0, standard deviation 1), but a feature has " +
                            $"mean {S(worstMean)} or standard deviation {S(largestStd)}. Standardise the features (NormalizeMeanVariance) before the trainer.");
        }
    }
}
