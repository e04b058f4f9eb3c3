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

    public static List<PretrainingLayerResult> Run(nn.Module network, PretrainingOptions o, Tensor features, int batchSize, Action<string>? log)
    {
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module);
        if (!modules.TryGetValue("head.layers", out var headLayers) || headLayers is not TorchSharp.Modules.Sequential seq)
            throw new NotSupportedException("Pretraining needs a network with a dense head ('head.layers'); this network has none.");
        var children = seq.named_children().Select(c => (c.name, Module: (nn.Module<Tensor, Tensor>)c.module)).ToList();
        var dense = children.Where(c => c.name.StartsWith("dense") && !c.name.Contains('_')).Select(c => c.name).ToList();
        if (dense.Count == 0)
            throw new NotSupportedException("Pretraining needs at least one hidden dense layer (DenseHead.HiddenSizes is empty).");
        var below = new List<nn.Module<Tensor, Tensor>>();
        foreach (var name in new[] { "body", "flatten" })
            if (modules.TryGetValue(name, out var m) && m is nn.Module<Tensor, Tensor> typed) below.Add(typed);

        var results = new List<PretrainingLayerResult>();
        var device = network.parameters().First().device;
        long n = features.shape[0];
        int position = 0; // index in children of the first module not yet applied to the inputs
        Tensor inputs;
        using (no_grad())
        {
            network.eval();
            inputs = features.to(device);
            foreach (var m in below) inputs = m.call(inputs);
        }
        foreach (var layer in dense)
        {
            // Feed the inputs through the head's modules below this layer (eval mode: dropout off).
            int start = children.FindIndex(c => c.name == layer);
            using (no_grad())
            {
                network.eval();
                for (int k = position; k < start; k++)
                    if (!children[k].name.Contains("dropout")) inputs = children[k].Module.call(inputs);
            }
            position = start;
            var encoder = children.Skip(start).TakeWhile(c => c.name == layer || c.name.StartsWith(layer + "_")).Where(c => !c.name.EndsWith("_dropout")).ToList();
            var linear = (TorchSharp.Modules.Linear)encoder[0].Module;
            using var decoder = nn.Linear(linear.weight!.shape[0], linear.weight.shape[1]).to(device);
            var ps = encoder.SelectMany(e => e.Module.parameters()).Concat(decoder.parameters()).ToList();
            using var opt = optim.Adam(ps, o.LearningRate);
            var result = new PretrainingLayerResult { Layer = "head.layers." + layer };
            foreach (var e in encoder) e.Module.train();
            for (int epoch = 0; epoch < o.EpochsPerLayer; epoch++)
            {
                double sum = 0;
                using var perm = randperm(n, device: device);
                for (long s = 0; s < n; s += batchSize)
                {
                    using var scope = NewDisposeScope();
                    long len = Math.Min(batchSize, n - s);
                    var x = inputs.index_select(0, perm.narrow(0, s, len));
                    var corrupted = o.Corruption > 0 ? x * rand_like(x).ge(o.Corruption).to(x.dtype) : x;
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
            log?.Invoke($"pretrained {result.Layer}: reconstruction MSE {string.Join(" → ", result.ReconstructionLoss.Select(v => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)))}");
            results.Add(result);
        }
        inputs.Dispose();
        return results;
    }
}
