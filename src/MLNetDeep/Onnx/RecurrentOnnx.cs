using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>The recurrent cell types ONNX has operators for.</summary>
internal enum RecurrentCell
{
    /// <summary>LSTM: PyTorch gate order i, f, g, o; ONNX i, o, f, c.</summary>
    Lstm,
    /// <summary>GRU: PyTorch gate order r, z, n; ONNX z, r, h (with linear_before_reset = 1, PyTorch's formulation).</summary>
    Gru,
    /// <summary>Elman RNN with tanh.</summary>
    RnnTanh,
    /// <summary>Elman RNN with ReLU.</summary>
    RnnRelu,
}

/// <summary>
/// Building blocks for exporting recurrent families: PyTorch → ONNX gate-order conversion and emission of
/// stacked, optionally bidirectional LSTM / GRU / RNN layers (one ONNX node per layer) from a TorchSharp
/// nn.LSTM / nn.GRU / nn.RNN module's parameters. A sequence-family exporter calls <see cref="Emit"/> with a
/// sequence-major input; <c>sequence_lens</c> makes padded positions of shorter rows produce zeros in Y and
/// leaves Y_h at each row's last valid step, as packed sequences do in PyTorch.
/// </summary>
internal static class RecurrentOnnx
{
    /// <summary>Gates per cell.</summary>
    public static int Gates(RecurrentCell cell) => cell switch
    {
        RecurrentCell.Lstm => 4,
        RecurrentCell.Gru => 3,
        _ => 1,
    };

    /// <summary>
    /// Reorders the gate blocks along dimension 0 of a weight [gates·H, ...] or bias [gates·H] from PyTorch's order
    /// to ONNX's: LSTM (i, f, g, o) → (i, o, f, c); GRU (r, z, n) → (z, r, h); RNN unchanged.
    /// </summary>
    public static Tensor ToOnnxGateOrder(Tensor weight, RecurrentCell cell)
    {
        int gates = Gates(cell);
        if (weight.shape[0] % gates != 0)
            throw new ArgumentException($"A {cell} weight has {weight.shape[0]} rows, not a multiple of its {gates} gates.", nameof(weight));
        var chunks = weight.chunk(gates, 0);
        return cell switch
        {
            RecurrentCell.Lstm => cat(new[] { chunks[0], chunks[3], chunks[1], chunks[2] }, 0),
            RecurrentCell.Gru => cat(new[] { chunks[1], chunks[0], chunks[2] }, 0),
            _ => weight.alias(),
        };
    }

    /// <summary>
    /// Emits the layers of <paramref name="module"/> (an nn.LSTM, nn.GRU or nn.RNN; parameters named
    /// weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse]).
    /// <paramref name="input"/> is sequence-major [T, N, features]; <paramref name="sequenceLengths"/> (int32 [N]) is optional.
    /// Returns Y of the last layer as [T, N, directions·H] and its Y_h as [N, directions·H] (directions concatenated
    /// forward then backward, like PyTorch's output).
    /// </summary>
    public static (string Sequence, string LastState) Emit(OnnxGraphBuilder g, TorchSharp.torch.nn.Module module, RecurrentCell cell,
        string input, string? sequenceLengths, int hiddenSize, int layers, bool bidirectional, string hint, string layer)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        int dirs = bidirectional ? 2 : 1;
        string x = input, lastState = "";
        for (int l = 0; l < layers; l++)
        {
            var (op, inputs, attrs) = LayerNode(g, parameters, cell, l, dirs, hiddenSize, hint, layer);
            inputs.Insert(0, x);
            if (sequenceLengths is not null) inputs.Add(sequenceLengths);
            var y = g.Unique($"{hint}_l{l}_Y");
            var yh = g.Unique($"{hint}_l{l}_Y_h");
            var outputs = cell == RecurrentCell.Lstm ? new[] { y, yh, g.Unique($"{hint}_l{l}_Y_c") } : new[] { y, yh };
            g.Node(op, inputs.ToArray(), outputs, attrs.ToArray());
            // Y [T, dirs, N, H] → [T, N, dirs·H]
            var yt = g.Node("Transpose", new[] { y }, $"{hint}_l{l}_Y_t", Ints("perm", 0, 2, 1, 3));
            x = g.Node("Reshape", new[] { yt, g.Int64Constant("shape_0_0_m1", new long[] { 0, 0, -1 }, 3) }, $"{hint}_l{l}_out");
            // Y_h [dirs, N, H] → [N, dirs·H]
            var ht = g.Node("Transpose", new[] { yh }, $"{hint}_l{l}_Y_h_t", Ints("perm", 1, 0, 2));
            lastState = g.Node("Reshape", new[] { ht, g.Int64Constant("shape_0_m1", new long[] { 0, -1 }, 2) }, $"{hint}_l{l}_state");
        }
        return (x, lastState);
    }

    /// <summary>
    /// The ONNX operator, its weight inputs (W, R, B as initializers, without X) and attributes for layer
    /// <paramref name="l"/> of a TorchSharp recurrent module's parameters.
    /// </summary>
    private static (string Op, List<string> Inputs, Proto.AttributeProto[] Attributes) LayerNode(OnnxGraphBuilder g,
        Dictionary<string, Tensor> parameters, RecurrentCell cell, int l, int dirs, int hiddenSize, string hint, string layer)
    {
        using var scope = NewDisposeScope();
        Tensor Stacked(string kind)
        {
            var perDirection = new List<Tensor>();
            for (int d = 0; d < dirs; d++)
            {
                string name = $"{kind}_l{l}{(d == 1 ? "_reverse" : "")}";
                if (!parameters.TryGetValue(name, out var p))
                    throw new OnnxExportException(layer, $"the recurrent module has no parameter '{name}' (a {cell} layer without biases or projections can't be exported yet).");
                perDirection.Add(ToOnnxGateOrder(p.detach().to(ScalarType.Float32).cpu(), cell));
            }
            return stack(perDirection.ToArray(), 0);
        }
        var w = g.Initializer($"{hint}_l{l}.W", Stacked("weight_ih"));      // [dirs, gates·H, in]
        var r = g.Initializer($"{hint}_l{l}.R", Stacked("weight_hh"));      // [dirs, gates·H, H]
        var b = g.Initializer($"{hint}_l{l}.B", cat(new[] { Stacked("bias_ih"), Stacked("bias_hh") }, 1)); // [dirs, 2·gates·H]

        var attrs = new List<Proto.AttributeProto> { Int("hidden_size", hiddenSize), String("direction", dirs == 2 ? "bidirectional" : "forward") };
        string op = cell switch { RecurrentCell.Lstm => "LSTM", RecurrentCell.Gru => "GRU", _ => "RNN" };
        if (cell == RecurrentCell.Gru) attrs.Add(Int("linear_before_reset", 1));
        if (cell is RecurrentCell.RnnTanh or RecurrentCell.RnnRelu)
            attrs.Add(Strings("activations", Enumerable.Repeat(cell == RecurrentCell.RnnRelu ? "Relu" : "Tanh", dirs).ToArray()));
        return (op, new List<string> { w, r, b }, attrs.ToArray());
    }

    /// <summary>
    /// One step of a unidirectional stack with an explicit state (a decoder step): <paramref name="input"/> [N, features],
    /// <paramref name="h"/> and (LSTM) <paramref name="c"/> [layers, N, H] → the top layer's output [N, H] and the new
    /// states [layers, N, H].
    /// </summary>
    public static (string Output, string H, string? C) EmitStep(OnnxGraphBuilder g, TorchSharp.torch.nn.Module module, RecurrentCell cell,
        string input, string h, string? c, int hiddenSize, int layers, string hint, string layer)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var axis0 = g.Int64Constant("axis_0", new long[] { 0 }, 1);
        var axis1 = g.Int64Constant("axis_1", new long[] { 1 }, 1);
        string x = g.Node("Unsqueeze", new[] { input, axis0 }, $"{hint}_x_seq");                     // [1, N, F]
        var hs = new List<string>();
        var cs = new List<string>();
        for (int l = 0; l < layers; l++)
        {
            var (op, inputs, attrs) = LayerNode(g, parameters, cell, l, 1, hiddenSize, hint, layer);
            var from = g.Int64Constant($"index_{l}", new long[] { l }, 1);
            var to = g.Int64Constant($"index_{l + 1}", new long[] { l + 1 }, 1);
            var hl = g.Node("Slice", new[] { h, from, to, axis0 }, $"{hint}_l{l}_h0");               // [1, N, H]
            inputs.Insert(0, x);
            inputs.Add("");                                                                          // no sequence_lens: every row takes the step
            inputs.Add(hl);
            if (cell == RecurrentCell.Lstm) inputs.Add(g.Node("Slice", new[] { c!, from, to, axis0 }, $"{hint}_l{l}_c0"));
            var y = g.Unique($"{hint}_l{l}_Y");
            var yh = g.Unique($"{hint}_l{l}_Y_h");
            var outputs = cell == RecurrentCell.Lstm ? new[] { y, yh, g.Unique($"{hint}_l{l}_Y_c") } : new[] { y, yh };
            g.Node(op, inputs.ToArray(), outputs, attrs);
            x = g.Node("Squeeze", new[] { y, axis1 }, $"{hint}_l{l}_out");                           // Y [1, 1, N, H] → [1, N, H]
            hs.Add(yh);
            if (cell == RecurrentCell.Lstm) cs.Add(outputs[2]);
        }
        var top = g.Node("Squeeze", new[] { x, axis0 }, $"{hint}_output");                          // [N, H]
        var hOut = layers == 1 ? hs[0] : g.Node("Concat", hs.ToArray(), $"{hint}_h", Int("axis", 0));
        string? cOut = cell != RecurrentCell.Lstm ? null : layers == 1 ? cs[0] : g.Node("Concat", cs.ToArray(), $"{hint}_c", Int("axis", 0));
        return (top, hOut, cOut);
    }
}
