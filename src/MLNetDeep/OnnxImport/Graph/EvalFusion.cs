using static TorchSharp.torch;

namespace MLNetDeep.OnnxImport.Graph;

/// <summary>
/// Eval-mode folding of a batch norm into the convolution before it (what ONNX Runtime does at load): the convolution
/// runs with w·γ/√(σ²+ε) and (b − μ)·γ/√(σ²+ε) + β, and the batch norm is skipped. Train mode runs both nodes as they
/// are. The folded weights are computed on each eval forward from the current parameters and statistics, so changed
/// weights, a loaded state or a device move are always seen.
/// </summary>
internal static class EvalFusion
{
    /// <summary>Marks Conv → BatchNormalization pairs in one block whose convolution output only the batch norm reads.</summary>
    public static void FoldBatchNormIntoConv(List<BlockPlan> blocks, int[] outputSlots)
    {
        var outputs = outputSlots.ToHashSet();
        foreach (var block in blocks)
        {
            var readers = new Dictionary<int, int>();
            foreach (var n in block.Nodes)
                foreach (var s in n.Inputs.Where(s => s.Kind == SourceKind.Slot)) readers[s.Slot] = readers.GetValueOrDefault(s.Slot) + 1;
            var producer = new Dictionary<int, RuntimeNode>();
            foreach (var n in block.Nodes)
                for (int k = 0; k < n.OutputSlots.Length; k++)
                    if (n.OutputSlots[k] >= 0) producer[n.OutputSlots[k]] = n;
            foreach (var bn in block.Nodes.Where(n => n.Node.OpType == "BatchNormalization"))
            {
                var x = bn.Inputs[0];
                if (x.Kind != SourceKind.Slot || outputs.Contains(x.Slot) || readers.GetValueOrDefault(x.Slot) != 1) continue;
                if (!producer.TryGetValue(x.Slot, out var conv) || conv.Node.OpType != "Conv" || conv.OutputSlots[0] != x.Slot) continue;
                if (conv.FoldedBatchNorm is not null || bn.Node.Opset < 9 && bn.Node.Int("spatial", 1) == 0) continue;
                if (bn.OutputSlots.Skip(1).Any(s => s >= 0)) continue;
                // later readers of the convolution output elsewhere (another block) would miss it in eval mode
                if (blocks.Where(b => b != block).SelectMany(b => b.Nodes).Any(n => n.Inputs.Any(s => s.Kind == SourceKind.Slot && s.Slot == x.Slot))) continue;
                conv.FoldedBatchNorm = new FoldedBatchNorm(bn, bn.Node.Float("epsilon", 1e-5f));
                bn.SkipInEval = true;
            }
        }
    }

    /// <summary>The convolution's weight and bias with the batch norm folded in.</summary>
    public static (Tensor Weight, Tensor Bias) Fold(Tensor weight, Tensor? bias, Tensor scale, Tensor shift, Tensor mean, Tensor variance, double epsilon)
    {
        using var scope = NewDisposeScope();
        var factor = scale / (variance + epsilon).sqrt();                       // [M]
        var shape = new long[weight.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        var w = weight * factor.reshape(shape);                                 // [M, C/g, k...]
        var b = ((bias is null ? -mean : bias - mean) * factor) + shift;         // [M]
        return (w.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }
}
