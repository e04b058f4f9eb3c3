using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>
/// LSTM, GRU and RNN as ONNX defines them (gate orders iofc, zrh; B = [Wb, Rb]; forward, reverse, bidirectional;
/// sequence_lens; initial states; LSTM peepholes; GRU linear_before_reset; clip; the activation list; layout 0 or 1
/// from opset 14), run step by step with TorchSharp operations so training works through them. The input-to-hidden
/// products of all steps are computed in one matrix product per direction; each step then adds the hidden part.
/// </summary>
internal static class RecurrentOps
{
    private static InputRole Roles(long opset, int i) => i switch
    {
        1 or 2 or 3 => InputRole.Weight,   // W, R, B
        7 => InputRole.Weight,             // LSTM's peepholes P
        _ => InputRole.Data,               // X, sequence_lens, initial_h, initial_c
    };

    public static IEnumerable<OpDefinition> Definitions()
    {
        const string notes = "directions forward/reverse/bidirectional, sequence_lens, initial states, clip, activations (Sigmoid, Tanh, Relu, HardSigmoid, LeakyRelu, Elu, Softsign, Softplus, Affine, ScaledTanh), layout (14+); run step by step";
        yield return new("LSTM", n => Build(n, Cell.Lstm), Roles, notes + "; peepholes; not input_forget");
        yield return new("GRU", n => Build(n, Cell.Gru), Roles, notes + "; linear_before_reset");
        yield return new("RNN", n => Build(n, Cell.Rnn), Roles, notes);
    }

    private enum Cell { Lstm, Gru, Rnn }

    private static OpRun Build(ImportNode n, Cell cell)
    {
        long hidden = n.Int("hidden_size", 0);
        var direction = n.String("direction", "forward");
        if (direction is not ("forward" or "reverse" or "bidirectional")) throw n.Unsupported("direction", direction, "forward, reverse or bidirectional");
        int directions = direction == "bidirectional" ? 2 : 1;
        bool batchFirst = n.Int("layout", 0) != 0;
        double? clip = n.Has("clip") ? n.Float("clip", 0) : null;
        bool linearBeforeReset = n.Int("linear_before_reset", 0) != 0;
        if (cell == Cell.Lstm && n.Int("input_forget", 0) != 0) throw n.Unsupported("input_forget", 1L, "0");
        int perDirection = cell switch { Cell.Lstm => 3, Cell.Gru => 2, _ => 1 };
        var names = n.Proto.Attributes.FirstOrDefault(a => a.Name == "activations")?.Strings;
        var defaults = cell switch { Cell.Lstm => new[] { "Sigmoid", "Tanh", "Tanh" }, Cell.Gru => new[] { "Sigmoid", "Tanh" }, _ => new[] { "Tanh" } };
        var list = names is { Count: > 0 } ? names.ToArray() : Enumerable.Repeat(defaults, directions).SelectMany(d => d).ToArray();
        if (list.Length != perDirection * directions) throw n.Error($"{list.Length} activations for {directions} direction(s); {cell} takes {perDirection} per direction.");
        var alphas = n.Floats("activation_alpha") ?? Array.Empty<float>();
        var betas = n.Floats("activation_beta") ?? Array.Empty<float>();
        int withParameters = 0;
        var activations = list.Select(name => Activation(n, name, alphas, betas, ref withParameters)).ToArray();
        n.SupportOutputs(cell == Cell.Lstm ? 3 : 2, "a recurrent output");

        return (_, x) =>
        {
            // the many per-step tensors are released together at the end (autograd keeps what it needs)
            using var scope = NewDisposeScope();
            var input = batchFirst ? x[0]!.transpose(0, 1) : x[0]!;                   // [T, N, I]
            var (w, r) = (x[1]!, x[2]!);                                               // [D, G·H, I], [D, G·H, H]
            var b = x.Length > 3 ? x[3] : null;                                        // [D, 2·G·H]
            var lengths = x.Length > 4 ? x[4] : null;                                  // [N]
            var h0 = x.Length > 5 ? x[5] : null;                                       // [D, N, H]
            var c0 = x.Length > 6 ? x[6] : null;
            var p = x.Length > 7 ? x[7] : null;                                        // [D, 3·H]
            long steps = input.shape[0], batch = input.shape[1];
            long h = hidden > 0 ? hidden : r.shape[2];
            if (w.shape[0] != directions) throw new ArgumentException($"W has {w.shape[0]} directions, direction = {direction} needs {directions}.");
            var ys = new List<Tensor>();
            var lastH = new List<Tensor>();
            var lastC = new List<Tensor>();
            // mask[t] = 1 for the batch entries that have step t
            Tensor? mask = lengths is null ? null
                : (arange(steps, ScalarType.Int64, input.device).unsqueeze(1) < lengths.to(ScalarType.Int64).unsqueeze(0)).unsqueeze(2).to(input.dtype); // [T, N, 1]
            for (int d = 0; d < directions; d++)
            {
                bool reverse = direction == "reverse" || d == 1;
                var f = activations.Skip(d * perDirection).Take(perDirection).ToArray();
                var xw = input.matmul(w[d].t());                                       // [T, N, G·H]
                Tensor? rb = null;
                if (b is not null)
                {
                    var gates = b[d].shape[0] / 2;
                    xw = xw + b[d].narrow(0, 0, gates);
                    rb = b[d].narrow(0, gates, gates);
                }
                var state = h0?[d] ?? zeros(batch, h, input.dtype, input.device);
                var memory = cell == Cell.Lstm ? c0?[d] ?? zeros(batch, h, input.dtype, input.device) : null;
                var outputs = new Tensor[steps];
                for (long s = 0; s < steps; s++)
                {
                    long t = reverse ? steps - 1 - s : s;
                    var gx = xw[t];                                                    // [N, G·H]
                    Tensor next, nextMemory = memory!;
                    switch (cell)
                    {
                        case Cell.Lstm:
                        {
                            var g = Plus(gx + state.matmul(r[d].t()), rb);
                            var parts = g.chunk(4, 1);                                 // i, o, f, c
                            Tensor gi = parts[0], go = parts[1], gf = parts[2], gc = parts[3];
                            if (p is not null)
                            {
                                var peep = p[d].chunk(3, 0);                           // P: i, o, f
                                gi = gi + peep[0] * memory!;
                                gf = gf + peep[2] * memory!;
                            }
                            var i = f[0](Clip(gi, clip));
                            var fg = f[0](Clip(gf, clip));
                            var cc = f[1](Clip(gc, clip));
                            nextMemory = fg * memory! + i * cc;
                            if (p is not null) go = go + p[d].chunk(3, 0)[1] * nextMemory;
                            var o = f[0](Clip(go, clip));
                            next = o * f[2](nextMemory);
                            break;
                        }
                        case Cell.Gru:
                        {
                            var xparts = gx.chunk(3, 1);                               // z, r, h
                            var rw = r[d].chunk(3, 0);
                            var rbs = rb?.chunk(3, 0);
                            Tensor Recur(int k) => rbs is null ? state.matmul(rw[k].t()) : state.matmul(rw[k].t()) + rbs[k];
                            var z = f[0](Clip(xparts[0] + Recur(0), clip));
                            var reset = f[0](Clip(xparts[1] + Recur(1), clip));
                            var candidate = linearBeforeReset
                                ? xparts[2] + reset * Recur(2)
                                : Plus(xparts[2] + (reset * state).matmul(rw[2].t()), rbs?[2]);
                            var hh = f[1](Clip(candidate, clip));
                            next = (1 - z) * hh + z * state;
                            break;
                        }
                        default:
                            next = f[0](Clip(Plus(gx + state.matmul(r[d].t()), rb), clip));
                            break;
                    }
                    if (mask is not null)
                    {
                        // past a row's length: the state stays, the output is 0
                        var m = mask[t];
                        next = m * next + (1 - m) * state;
                        if (memory is not null) nextMemory = m * nextMemory + (1 - m) * memory;
                        outputs[t] = next * m;
                    }
                    else outputs[t] = next;
                    state = next;
                    memory = cell == Cell.Lstm ? nextMemory : null;
                }
                ys.Add(stack(outputs));                                                // [T, N, H]
                lastH.Add(state);
                if (memory is not null) lastC.Add(memory);
            }
            var y = stack(ys, 1);                                                      // [T, D, N, H]
            var yh = stack(lastH);                                                     // [D, N, H]
            if (batchFirst)
            {
                y = y.permute(2, 0, 1, 3);                                             // [N, T, D, H]
                yh = yh.transpose(0, 1);                                               // [N, D, H]
            }
            var result = new List<Tensor> { y, yh };
            if (cell == Cell.Lstm)
            {
                var yc = stack(lastC);
                result.Add(batchFirst ? yc.transpose(0, 1) : yc);
            }
            return result.Select(t => t.MoveToOuterDisposeScope()).ToArray();
        };
    }

    private static Tensor Plus(Tensor a, Tensor? b) => b is null ? a : a + b;

    private static Tensor Clip(Tensor t, double? clip) => clip is double c ? t.clamp(-c, c) : t;

    /// <summary>An activation of the recurrent operators' list; those with parameters take the next alpha/beta values.</summary>
    private static Func<Tensor, Tensor> Activation(ImportNode n, string name, float[] alphas, float[] betas, ref int taken)
    {
        double Alpha(int i, double fallback) => i < alphas.Length ? alphas[i] : fallback;
        double Beta(int i, double fallback) => i < betas.Length ? betas[i] : fallback;
        switch (name.ToLowerInvariant())
        {
            case "sigmoid": return t => t.sigmoid();
            case "tanh": return t => t.tanh();
            case "relu": return t => F.relu(t);
            case "softsign": return t => F.softsign(t);
            case "softplus": return t => F.softplus(t);
        }
        int k = taken++;
        switch (name.ToLowerInvariant())
        {
            case "leakyrelu": { double a = Alpha(k, 0.01); return t => F.leaky_relu(t, a); }
            case "elu": { double a = Alpha(k, 1.0); return t => F.elu(t, a); }
            case "hardsigmoid": { double a = Alpha(k, 0.2), b = Beta(k, 0.5); return t => (t * a + b).clamp(0.0, 1.0); }
            case "affine": { double a = Alpha(k, 1.0), b = Beta(k, 0.0); return t => t * a + b; }
            case "scaledtanh": { double a = Alpha(k, 1.0), b = Beta(k, 1.0); return t => (t * b).tanh() * a; }
            default: throw n.Unsupported("activations", name, "Sigmoid, Tanh, Relu, Softsign, Softplus, LeakyRelu, Elu, HardSigmoid, Affine, ScaledTanh");
        }
    }
}
