using Microsoft.ML;
using MLNetDeep.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Pretraining;

/// <summary>
/// Runs <see cref="PretrainingOptions"/> on a network whose dense head is the Sequential "head.layers"
/// (dense{i}, [dense{i}_bn], dense{i}_act, [dropout] …, output), below an optional "body" and "flatten".
/// </summary>
internal static class LayerwisePretrainer
{
    /// <summary>Reads only the feature column of <paramref name="data"/> into a [N, ...shape] tensor.</summary>
    public static Tensor LoadFeatures(IDataView data, FeatureLayout layout, string featureColumn)
    {
        if (!layout.IsFixedSize)
            throw new NotSupportedException("Pretraining.UnlabeledData needs fixed-size features (images or vectors).");
        var col = data.Schema.GetColumnOrNull(featureColumn)
                  ?? throw new ArgumentOutOfRangeException(nameof(PretrainingOptions.UnlabeledData), featureColumn,
                      $"Pretraining.UnlabeledData has no feature column '{featureColumn}'. Apply the same featurisation as to the training data.");
        layout.ValidateColumn(col.Name, col.Type);
        var values = new List<float>();
        long rows = 0;
        using (var cursor = data.GetRowCursor(new[] { col }))
        {
            var reader = new FeatureColumnReader(cursor, col);
            while (cursor.MoveNext())
            {
                var span = reader.Read();
                layout.ValidateRow(featureColumn, rows, span);
                foreach (var v in span) values.Add(v);
                rows++;
            }
        }
        if (rows == 0) throw new InvalidDataException("Pretraining.UnlabeledData has no rows.");
        return Data.NativeBuffers.FromSpan(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values), layout.BatchShape(rows));
    }

    /// <summary>
    /// Pretrains the dense head's hidden layers on <paramref name="features"/> ([N, ...input shape]): as a stack of RBMs when
    /// <see cref="PretrainingOptions.Rbm"/> is set, else as denoising autoencoders. Every random draw (initial weights,
    /// shuffles, sampling, corruption) comes from a generator of this run seeded with <paramref name="seed"/>, so
    /// concurrent runs do not disturb each other; null draws the seed from torch's global generator (which the trainer seeds).
    /// </summary>
    public static List<PretrainingLayerResult> Run(nn.Module network, PretrainingOptions o, Tensor features, int batchSize, Action<string>? log, int? seed = null)
    {
        var head = new DenseHeadLayers(network);
        int s = seed ?? DrawSeed();
        if (o.Rbm is { } rbm)
            return DeepBeliefNet.Pretrain(head, rbm, o.EpochsPerLayer, features, batchSize, s, log);
        return Autoencoders(head, o, features, batchSize, s, log);
    }

    /// <summary>A seed from torch's global generator (seeded by the trainer), for callers that pass none.</summary>
    internal static int DrawSeed()
    {
        using var r = randint(int.MaxValue, new long[] { 1 }, ScalarType.Int64);
        return (int)r.item<long>();
    }

    private static List<PretrainingLayerResult> Autoencoders(DenseHeadLayers head, PretrainingOptions o, Tensor features, int batchSize, int seed, Action<string>? log)
    {
        var results = new List<PretrainingLayerResult>();
        var device = head.Device;
        using var generator = new Generator((ulong)(uint)seed, device);
        long n = features.shape[0];
        int position = 0; // index in the head's children of the first module not yet applied to the inputs
        var inputs = head.Forward(features, -1, 0);
        foreach (var layer in head.Dense)
        {
            // Feed the inputs through the head's modules below this layer (eval mode: dropout off).
            int start = head.IndexOf(layer);
            var next = head.Forward(inputs, position, start);
            if (!ReferenceEquals(next, inputs) && !ReferenceEquals(inputs, features)) inputs.Dispose();
            inputs = next;
            position = start;
            var encoder = head.Children.Skip(start).TakeWhile(c => c.name == layer || c.name.StartsWith(layer + "_")).Where(c => !c.name.EndsWith("_dropout")).ToList();
            var linear = (TorchSharp.Modules.Linear)encoder[0].Module;
            using var decoder = nn.Linear(linear.weight!.shape[0], linear.weight.shape[1]).to(device);
            using (no_grad())
            {
                // Linear's own initialisation, U(±1/√fan_in) (kaiming_uniform with a = √5), drawn from this run's generator.
                double bound = 1 / Math.Sqrt(linear.weight.shape[0]);
                decoder.weight!.uniform_(-bound, bound, generator);
                decoder.bias!.uniform_(-bound, bound, generator);
            }
            var ps = encoder.SelectMany(e => e.Module.parameters()).Concat(decoder.parameters()).ToList();
            using var opt = optim.Adam(ps, o.LearningRate);
            var result = new PretrainingLayerResult { Layer = DenseHeadLayers.FullName(layer) };
            foreach (var e in encoder) e.Module.train();
            for (int epoch = 0; epoch < o.EpochsPerLayer; epoch++)
            {
                double sum = 0;
                using var perm = randperm(n, device: device, generator: generator);
                for (long s = 0; s < n; s += batchSize)
                {
                    using var scope = NewDisposeScope();
                    long len = Math.Min(batchSize, n - s);
                    var x = inputs.index_select(0, perm.narrow(0, s, len));
                    var corrupted = o.Corruption > 0 ? x * rand(x.shape, x.dtype, x.device, generator: generator).ge(o.Corruption).to(x.dtype) : x;
                    var h = corrupted;
                    foreach (var e in encoder) h = e.Module.call(h);
                    var loss = F.mse_loss(decoder.call(h), x);
                    opt.zero_grad();
                    loss.backward();
                    opt.step();
                    sum += loss.item<float>() * len;
                }
                result.ReconstructionLoss.Add(sum / n);
            }
            log?.Invoke($"pretrained {result.Layer}: reconstruction MSE {Curve(result.ReconstructionLoss)}");
            results.Add(result);
        }
        if (!ReferenceEquals(inputs, features)) inputs.Dispose();
        return results;
    }

    /// <summary>"a → b → c" for a log line.</summary>
    internal static string Curve(IEnumerable<double> values) =>
        string.Join(" → ", values.Select(v => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)));
}
