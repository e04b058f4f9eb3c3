using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport.Graph;
using TorchSharp;
using static MLNetDeep.OnnxImport.Ops.OpHelpers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>Operators that move values around: reshaping, transposing, joining, splitting, padding, slicing, shapes and casts.</summary>
internal static class ShapeOps
{
    private static Func<long, int, InputRole> StaticFrom(int first, long sinceOpset = 0) =>
        (opset, i) => opset >= sinceOpset && i >= first ? InputRole.Static : InputRole.Data;

    public static IEnumerable<OpDefinition> Definitions()
    {
        yield return new("Flatten", n =>
        {
            long axis = n.Int("axis", 1);
            return (_, x) =>
            {
                var dims = x[0]!.shape;
                long a = axis < 0 ? axis + dims.Length : axis;
                if (a < 0 || a > dims.Length) throw n.Error($"axis {axis} is outside a tensor of rank {dims.Length}.");
                return One(x[0]!.reshape(Product(dims, 0, (int)a), Product(dims, (int)a, dims.Length)));
            };
        }, notes: "axis (negative from opset 11); output [prod(d[0:axis]), prod(d[axis:])]");
        yield return new("Reshape", Reshape, StaticFrom(1), "shape input (constant-folded or at run time; the shape attribute before opset 5), 0 copies a dimension unless allowzero = 1 (opset 14), -1 inferred; a fixed batch size in the shape follows the run's batch");
        yield return new("Transpose", n =>
        {
            var perm = n.Ints("perm");
            return (_, x) => One(x[0]!.permute(perm ?? Enumerable.Range(0, (int)x[0]!.dim()).Reverse().Select(i => (long)i).ToArray()));
        }, notes: "perm (default: reversed)");
        yield return new("Squeeze", Squeeze, StaticFrom(1, 13), "axes as attribute (< 13) or input (13+); none = every dimension of size 1");
        yield return new("Unsqueeze", Unsqueeze, StaticFrom(1, 13), "axes as attribute (< 13) or input (13+)");
        yield return new("Concat", n =>
        {
            long axis = n.Int("axis", n.Opset < 4 ? 1 : long.MinValue);
            if (axis == long.MinValue) throw n.Error("the 'axis' attribute is required.");
            return (_, x) =>
            {
                var parts = x.Where(t => t is not null).Select(t => t!).ToArray();
                return One(cat(parts, Axis(axis, parts[0].dim(), n)));
            };
        }, notes: "axis (negative from opset 11; default 1 before opset 4)");
        yield return new("Split", Split, (opset, i) => (opset >= 13 || opset < 2) && i >= 1 ? InputRole.Static : InputRole.Data, "axis; sizes from the split attribute (< 13) or input (13+), num_outputs (18+), or equal parts");
        yield return new("Pad", Pad, StaticFrom(1, 11), "constant, reflect, edge, wrap (19+); pads as attribute (< 11) or input (11+), constant_value, axes (18+); negative pads crop");
        yield return new("Shape", n =>
        {
            long start = n.Int("start", 0), end = n.Int("end", long.MaxValue);
            return (_, x) =>
            {
                var dims = x[0]!.shape;
                long r = dims.Length;
                long s = Math.Clamp(start < 0 ? start + r : start, 0, r), e = Math.Clamp(end < 0 ? end + r : end, 0, r);
                return One(tensor(dims[(int)s..(int)Math.Max(s, e)], ScalarType.Int64, x[0]!.device));
            };
        }, notes: "start, end (opset 15)");
        yield return new("Gather", n =>
        {
            long axis = n.Int("axis", 0);
            return (_, x) =>
            {
                var data = x[0]!;
                var indices = x[1]!.to(ScalarType.Int64);
                long a = Axis(axis, data.dim(), n);
                var size = data.shape[a];
                var positive = indices.where(indices >= 0, indices + size);
                var picked = data.index_select(a, positive.flatten());
                var shape = data.shape[..(int)a].Concat(indices.shape).Concat(data.shape[((int)a + 1)..]).ToArray();
                return One(picked.reshape(shape));
            };
        }, notes: "axis; negative indices");
        yield return new("Cast", n =>
        {
            // before opset 6 'to' is the type's name
            var to = n.Attribute("to") is { Type: OnnxAttributeType.String } named
                ? Enum.TryParse<OnnxDataType>(named.S, ignoreCase: true, out var parsed) ? parsed : throw n.Unsupported("to", named.S, "a numeric type name")
                : (OnnxDataType)n.Int("to", 0);
            var type = OnnxTensors.ToTorch(to, $"Cast node '{n.Label}' (to = {to})");
            return (_, x) => One(x[0]!.to(type));
        }, notes: "numeric and bool types (unsigned 16/32/64-bit become signed wider types)");
        yield return new("Expand", n =>
        {
            var fixedShape = n.ConstantLongs(1);
            return (_, x) =>
            {
                var shape = LongsOf(fixedShape, x[1])!;
                var input = x[0]!;
                // ONNX broadcasts both ways: a 1 in the shape keeps the input's size
                int rank = Math.Max(shape.Length, (int)input.dim());
                var target = new long[rank];
                for (int i = 0; i < rank; i++)
                {
                    long s = i - (rank - shape.Length) >= 0 ? shape[i - (rank - shape.Length)] : 1;
                    long d = i - (rank - (int)input.dim()) >= 0 ? input.shape[i - (rank - (int)input.dim())] : 1;
                    target[i] = s == 1 ? d : s;
                }
                return One(input.expand(target));
            };
        }, StaticFrom(1));
        yield return new("ConstantOfShape", n =>
        {
            var fixedShape = n.ConstantLongs(0);
            var valueProto = n.Attribute("value")?.T;
            var value = valueProto is null ? zeros(1) : OnnxTensors.ToTensor(valueProto, $"ConstantOfShape node '{n.Label}'");
            return (_, x) =>
            {
                var shape = LongsOf(fixedShape, x[0])!;
                // at run time the shape comes from a tensor on the network's device; the value follows it there
                var v = x[0] is { } s && s.device != value.device ? value.to(s.device) : value;
                return One(v.flatten().expand(shape.Length == 0 ? Array.Empty<long>() : shape).contiguous().reshape(shape));
            };
        }, (_, _) => InputRole.Static);
        yield return new("Slice", Slice, StaticFrom(1, 10), "starts, ends, axes as attributes (< 10) or inputs (10+), steps (negative too)");
        yield return Reduce("ReduceMean", (x, d, k) => x.mean(d, k), 18);
        yield return Reduce("ReduceSum", (x, d, k) => x.sum(d, k), 13);
        yield return Reduce("ReduceMax", (x, d, k) => x.amax(d, k), 18);
        yield return Reduce("ReduceMin", (x, d, k) => x.amin(d, k), 18);
    }

    private static OpRun Reshape(ImportNode n)
    {
        var fixedShape = n.Opset < 5 ? n.Ints("shape") ?? throw n.Error("the 'shape' attribute is required before opset 5.") : n.ConstantLongs(1);
        bool allowZero = n.Int("allowzero", 0) != 0;
        return (ctx, x) =>
        {
            var input = x[0]!;
            var shape = (long[])LongsOf(fixedShape, x[1])!.Clone();
            var dims = input.shape;
            for (int i = 0; i < shape.Length; i++)
                if (shape[i] == 0 && !allowZero)
                {
                    if (i >= dims.Length) throw n.Error($"shape [{string.Join(", ", shape)}] copies dimension {i} of a rank-{dims.Length} input.");
                    shape[i] = dims[i];
                }
            // A file exported with a fixed batch size often hard-codes it in Reshape's shape: when the run's batch
            // differs and the input's first dimension is that batch, the first dimension follows the run.
            if (ctx.DeclaredBatch is long declared && ctx.RuntimeBatch != declared && shape.Length > 0 && shape[0] == declared
                && dims.Length > 0 && dims[0] == ctx.RuntimeBatch)
                shape[0] = ctx.RuntimeBatch;
            return One(input.reshape(shape));
        };
    }

    private static long[]? AxesOf(ImportNode n, long since) => n.Opset >= since ? n.ConstantLongs(1) : n.Ints("axes");

    private static OpRun Squeeze(ImportNode n)
    {
        var fixedAxes = AxesOf(n, 13);
        bool runtimeAxes = n.Opset >= 13 && n.HasInput(1) && fixedAxes is null;
        return (_, x) =>
        {
            var input = x[0]!;
            var axes = runtimeAxes ? OnnxTensors.Longs(x[1]!) : fixedAxes;
            if (axes is null || axes.Length == 0)
            {
                var keep = input.shape.Where(d => d != 1).ToArray();
                return One(input.reshape(keep));
            }
            long r = input.dim();
            var normalized = axes.Select(a => Axis(a, r, n)).ToHashSet();
            foreach (var a in normalized)
                if (input.shape[a] != 1) throw n.Error($"axis {a} has size {input.shape[a]}, not 1 (input shape [{string.Join(", ", input.shape)}]).");
            return One(input.reshape(input.shape.Where((_, i) => !normalized.Contains(i)).ToArray()));
        };
    }

    private static OpRun Unsqueeze(ImportNode n)
    {
        var fixedAxes = AxesOf(n, 13);
        bool runtimeAxes = n.Opset >= 13 && fixedAxes is null;
        return (_, x) =>
        {
            var input = x[0]!;
            var axes = runtimeAxes ? OnnxTensors.Longs(x[1]!) : fixedAxes ?? throw n.Error("axes are required.");
            long outRank = input.dim() + axes.Length;
            var inserted = axes.Select(a => Axis(a, outRank, n)).ToHashSet();
            var shape = new long[outRank];
            for (int i = 0, j = 0; i < outRank; i++) shape[i] = inserted.Contains(i) ? 1 : input.shape[j++];
            return One(input.reshape(shape));
        };
    }

    private static OpRun Split(ImportNode n)
    {
        long axis = n.Int("axis", 0);
        int outputs = n.Proto.Outputs.Count;
        // the sizes are an input from opset 13 on, and could be one in opset 1 too
        bool sizesInput = n.Opset >= 13 || (n.Opset < 2 && n.HasInput(1));
        long[]? fixedSizes = sizesInput ? n.ConstantLongs(1) : n.Ints("split");
        bool runtimeSizes = sizesInput && n.HasInput(1) && fixedSizes is null;
        long numOutputs = n.Int("num_outputs", 0);
        return (_, x) =>
        {
            var input = x[0]!;
            long a = Axis(axis, input.dim(), n);
            long size = input.shape[a];
            var sizes = runtimeSizes ? OnnxTensors.Longs(x[1]!) : fixedSizes;
            if (sizes is null || sizes.Length == 0)
            {
                long parts = numOutputs > 0 ? numOutputs : outputs;
                long chunk = (size + parts - 1) / parts; // opset 18: the last part is smaller when the size does not divide
                sizes = Enumerable.Range(0, (int)parts).Select(i => Math.Max(0, Math.Min(chunk, size - i * chunk))).ToArray();
            }
            if (sizes.Sum() != size) throw n.Error($"split sizes [{string.Join(", ", sizes)}] do not add up to {size} (axis {a}).");
            return input.split(sizes, a);
        };
    }

    private static OpRun Pad(ImportNode n)
    {
        var modeName = n.String("mode", "constant");
        var mode = modeName switch
        {
            "constant" => PaddingModes.Constant,
            "reflect" => PaddingModes.Reflect,
            "edge" => PaddingModes.Replicate,
            "wrap" => PaddingModes.Circular,
            _ => throw n.Unsupported("mode", modeName, "constant, reflect, edge or wrap"),
        };
        long[]? fixedPads = n.Opset < 11 ? n.Ints("pads") ?? n.Ints("paddings") : n.ConstantLongs(1);
        double? fixedValue = n.Opset < 11 ? n.Float("value", 0f) : (n.HasInput(2) ? (n.Constant(2) is { } c ? OnnxTensors.Doubles(c)[0] : null) : 0.0);
        long[]? fixedAxes = n.Opset >= 18 && n.HasInput(3) ? n.ConstantLongs(3) : null;
        bool runtimeAxes = n.Opset >= 18 && n.HasInput(3) && fixedAxes is null;
        return (_, x) =>
        {
            var input = x[0]!;
            int rank = (int)input.dim();
            var pads = LongsOf(fixedPads, x.Length > 1 ? x[1] : null) ?? throw n.Error("pads are required.");
            double value = fixedValue ?? (x[2] is null ? 0 : OnnxTensors.Doubles(x[2]!)[0]);
            var axes = runtimeAxes ? OnnxTensors.Longs(x[3]!) : fixedAxes ?? Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
            if (pads.Length != 2 * axes.Length) throw n.Error($"{pads.Length} pads for {axes.Length} axes (it needs begin and end for each).");
            var begin = new long[rank];
            var end = new long[rank];
            for (int i = 0; i < axes.Length; i++)
            {
                long a = Axis(axes[i], rank, n);
                begin[a] = pads[i];
                end[a] = pads[axes.Length + i];
            }
            int first = Array.FindIndex(Enumerable.Range(0, rank).ToArray(), i => begin[i] != 0 || end[i] != 0);
            if (first < 0) return One(input);
            if (mode != PaddingModes.Constant && rank - first > 3)
                throw n.Error($"{modeName} padding of dimension {first} of a rank-{rank} tensor is not supported (LibTorch pads the last 3 dimensions in that mode).");
            // LibTorch's order: last dimension first, (begin, end) pairs
            var torchPads = new List<long>();
            for (int i = rank - 1; i >= first; i--) { torchPads.Add(begin[i]); torchPads.Add(end[i]); }
            if (mode == PaddingModes.Constant) return One(F.pad(input, torchPads.ToArray(), mode, value));
            // reflect/replicate/circular pad the last 1-3 dimensions of a tensor with one more dimension in front:
            // fold every dimension before the first padded one into that one
            var shape = input.shape;
            var grouped = input.reshape(new[] { Product(shape, 0, first) }.Concat(shape[first..]).ToArray());
            var padded = F.pad(grouped, torchPads.ToArray(), mode);
            return One(padded.reshape(shape[..first].Concat(padded.shape[1..]).ToArray()));
        };
    }

    private static OpRun Slice(ImportNode n)
    {
        long[]? starts = n.Opset < 10 ? n.Ints("starts") : n.ConstantLongs(1);
        long[]? ends = n.Opset < 10 ? n.Ints("ends") : n.ConstantLongs(2);
        long[]? axes = n.Opset < 10 ? n.Ints("axes") : n.ConstantLongs(3);
        long[]? steps = n.Opset < 10 ? null : n.ConstantLongs(4);
        bool hasAxes = n.Opset < 10 ? axes is not null : n.HasInput(3), hasSteps = n.Opset >= 10 && n.HasInput(4);
        return (_, x) =>
        {
            var input = x[0]!;
            int rank = (int)input.dim();
            var s = LongsOf(starts, x.Length > 1 ? x[1] : null) ?? throw n.Error("starts are required.");
            var e = LongsOf(ends, x.Length > 2 ? x[2] : null) ?? throw n.Error("ends are required.");
            var a = hasAxes ? LongsOf(axes, x.Length > 3 ? x[3] : null)! : Enumerable.Range(0, s.Length).Select(i => (long)i).ToArray();
            var st = hasSteps ? LongsOf(steps, x.Length > 4 ? x[4] : null)! : Enumerable.Repeat(1L, s.Length).ToArray();
            var y = input;
            for (int i = 0; i < a.Length; i++)
            {
                long axis = Axis(a[i], rank, n), dim = input.shape[axis], step = st[i];
                if (step == 0) throw n.Error("a step of 0 is not allowed.");
                long from = s[i] < 0 ? s[i] + dim : s[i], to = e[i] < 0 ? e[i] + dim : e[i];
                if (step > 0)
                {
                    from = Math.Clamp(from, 0, dim);
                    to = Math.Clamp(to, from, dim);
                    y = y.slice(axis, from, to, step);
                }
                else
                {
                    // backwards: start clamped to [0, dim − 1], end to [−1, dim − 1]; LibTorch slices forwards only
                    from = Math.Clamp(from, 0, dim - 1);
                    to = Math.Clamp(to, -1, dim - 1);
                    var index = from > to ? arange(from, to, step, ScalarType.Int64, y.device) : zeros(0, ScalarType.Int64, y.device);
                    y = y.index_select(axis, index);
                }
            }
            return One(y);
        };
    }

    private static OpDefinition Reduce(string op, Func<Tensor, long[], bool, Tensor> f, long axesInputSince) =>
        new(op, n =>
        {
            bool keep = n.Int("keepdims", 1) != 0;
            bool noop = n.Int("noop_with_empty_axes", 0) != 0;
            var fixedAxes = n.Opset >= axesInputSince ? n.ConstantLongs(1) : n.Ints("axes");
            bool runtimeAxes = n.Opset >= axesInputSince && n.HasInput(1) && fixedAxes is null;
            return (_, x) =>
            {
                var input = x[0]!;
                var axes = runtimeAxes ? OnnxTensors.Longs(x[1]!) : fixedAxes;
                if (axes is null || axes.Length == 0)
                {
                    if (noop) return One(input);
                    axes = Enumerable.Range(0, (int)input.dim()).Select(i => (long)i).ToArray();
                }
                return One(f(input, axes.Select(a => Axis(a, input.dim(), n)).ToArray(), keep));
            };
        }, StaticFrom(1, axesInputSince), $"axes as attribute (< {axesInputSince}) or input ({axesInputSince}+), keepdims, noop_with_empty_axes");
}
