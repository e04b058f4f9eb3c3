using TorchSharp;
using static MLNetDeep.OnnxImport.Ops.OpHelpers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>Activations, arithmetic with broadcasting, softmax, identity, constants and dropout.</summary>
internal static class ElementwiseOps
{
    // ONNX's Selu defaults (the float32 values of PyTorch's constants).
    private const float SeluAlpha = 1.67326319217681884765625f;
    private const float SeluGamma = 1.05070102214813232421875f;

    private static OpDefinition Unary(string op, Func<Tensor, Tensor> f, string? notes = null) =>
        new(op, _ => (_, x) => One(f(x[0]!)), notes: notes);

    public static IEnumerable<OpDefinition> Definitions()
    {
        yield return Unary("Relu", x => F.relu(x));
        yield return Unary("Sigmoid", x => x.sigmoid());
        yield return Unary("Tanh", x => x.tanh());
        yield return Unary("Softsign", x => F.softsign(x));
        yield return Unary("HardSwish", x => F.hardswish(x), "opset 14+");
        yield return Unary("Softplus", x => F.softplus(x), "log(exp(x) + 1); LibTorch returns x itself above x = 20 (a difference below 2e-9)");
        yield return Unary("Erf", x => x.erf());
        yield return Unary("Exp", x => x.exp());
        yield return Unary("Log", x => x.log());
        yield return Unary("Sqrt", x => x.sqrt());
        yield return Unary("Neg", x => x.neg());
        yield return Unary("Abs", x => x.abs());
        yield return Unary("Reciprocal", x => x.reciprocal());
        yield return Unary("Floor", x => x.floor());
        yield return Unary("Ceil", x => x.ceil());
        yield return new("LeakyRelu", n =>
        {
            double alpha = n.Float("alpha", 0.01f);
            return (_, x) => One(F.leaky_relu(x[0]!, alpha));
        }, notes: "alpha");
        yield return new("Elu", n =>
        {
            double alpha = n.Float("alpha", 1f);
            return (_, x) => One(F.elu(x[0]!, alpha));
        }, notes: "alpha");
        yield return new("Selu", n =>
        {
            float alpha = n.Float("alpha", SeluAlpha), gamma = n.Float("gamma", SeluGamma);
            if (alpha == SeluAlpha && gamma == SeluGamma) return (_, x) => One(F.selu(x[0]!));
            return (_, x) => One(F.elu(x[0]!, alpha) * gamma);
        }, notes: "alpha, gamma");
        yield return new("PRelu", n => (_, x) =>
        {
            // slope broadcasts to X (ONNX's unidirectional broadcasting, opset 7+): [C, 1, 1], [1], ...;
            // before opset 7 a 1-D slope of C values is per channel
            var input = x[0]!;
            var slope = x[1]!;
            if (n.Opset < 7 && slope.dim() == 1 && input.dim() > 2 && slope.shape[0] == input.shape[1])
                slope = slope.reshape(new[] { slope.shape[0] }.Concat(Enumerable.Repeat(1L, (int)input.dim() - 2)).ToArray());
            return One(input.where(input >= 0, input * slope));
        }, (_, i) => i == 1 ? InputRole.Weight : InputRole.Data, notes: "slope is a trainable parameter, any shape that broadcasts to X (per channel before opset 7)");
        yield return new("HardSigmoid", n =>
        {
            double alpha = n.Float("alpha", 0.2f), beta = n.Float("beta", 0.5f);
            return (_, x) => One((x[0]! * alpha + beta).clamp(0.0, 1.0));
        }, notes: "alpha, beta");
        yield return new("Gelu", n =>
        {
            var approximate = n.String("approximate", "none");
            if (approximate is not ("none" or "tanh")) throw n.Unsupported("approximate", approximate, "none or tanh");
            var mode = approximate == "tanh" ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none;
            return (_, x) => One(F.gelu(x[0]!, mode));
        }, notes: "opset 20+, approximate none or tanh");
        yield return new("Clip", Clip, (opset, i) => opset >= 11 && i > 0 ? InputRole.Static : InputRole.Data,
            "min/max as attributes (opset < 11) or constant or run-time inputs (11+)");

        yield return Binary("Add", (a, b) => a + b);
        yield return Binary("Sub", (a, b) => a - b);
        yield return Binary("Mul", (a, b) => a * b);
        yield return Binary("Div", (a, b) => is_floating_point(a) ? a / b : a.div(b, RoundingMode.trunc));
        yield return Binary("Pow", (a, b) => a.pow(b));
        yield return Variadic("Sum", (a, b) => a + b, mean: false);
        yield return Variadic("Mean", (a, b) => a + b, mean: true);
        yield return Variadic("Max", (a, b) => a.maximum(b), mean: false);
        yield return Variadic("Min", (a, b) => a.minimum(b), mean: false);

        yield return Binary("Greater", (a, b) => a > b);
        yield return Binary("Less", (a, b) => a < b);
        yield return Binary("GreaterOrEqual", (a, b) => a >= b);
        yield return Binary("LessOrEqual", (a, b) => a <= b);
        yield return Binary("Equal", (a, b) => a == b);
        yield return Binary("And", (a, b) => a.logical_and(b));
        yield return Binary("Or", (a, b) => a.logical_or(b));
        yield return Binary("Xor", (a, b) => a.logical_xor(b));
        yield return Unary("Not", x => x.logical_not());
        yield return new("Where", _ => (_, x) => One(where(x[0]!.to(ScalarType.Bool), x[1]!, x[2]!)), notes: "broadcasting");
        yield return new("Range", _ => (_, x) =>
        {
            var (start, limit, delta) = (x[0]!, x[1]!, x[2]!);
            if (is_floating_point(start))
            {
                double s = Graph.OnnxTensors.Doubles(start)[0], l = Graph.OnnxTensors.Doubles(limit)[0], d = Graph.OnnxTensors.Doubles(delta)[0];
                if (d == 0) throw new ArgumentException("Range's delta is 0.");
                long n = Math.Max(0, (long)Math.Ceiling((l - s) / d));
                return One((arange(n, ScalarType.Float64, start.device) * d + s).to(start.dtype));
            }
            long s0 = Graph.OnnxTensors.Longs(start)[0], l0 = Graph.OnnxTensors.Longs(limit)[0], d0 = Graph.OnnxTensors.Longs(delta)[0];
            if (d0 == 0) throw new ArgumentException("Range's delta is 0.");
            long count = Math.Max(0, (long)Math.Ceiling((double)(l0 - s0) / d0));
            return One((arange(count, ScalarType.Int64, start.device) * d0 + s0).to(start.dtype));
        }, notes: "scalar start, limit, delta");
        yield return ArgReduce("ArgMax", (x, d, k) => x.argmax(d, k));
        yield return ArgReduce("ArgMin", (x, d, k) => x.argmin(d, k));
        yield return new("Softmax", n => SoftmaxLike(n, (x, d) => x.softmax(d)), notes: "axis; before opset 13 the input is flattened to 2-D at axis, as the spec says");
        yield return new("LogSoftmax", n => SoftmaxLike(n, (x, d) => x.log_softmax(d)), notes: "as Softmax");
        yield return new("Identity", _ => (_, x) => One(x[0]!));
        yield return new("Constant", Constant, notes: "value, value_float(s), value_int(s); not strings or sparse values");
        yield return new("Dropout", Dropout, (opset, i) => i > 0 ? InputRole.Static : InputRole.Data, foldable: false,
            notes: "ratio; drops only when the module is in train mode (ONNX's training_mode input is ignored); the mask output");
    }

    private static OpDefinition Binary(string op, Func<Tensor, Tensor, Tensor> f) =>
        new(op, n =>
        {
            // opset 6: broadcast = 1 with an axis aligns B's dimensions with A's starting at that axis
            if (n.Opset < 7 && n.Int("broadcast", 0) != 0 && n.Has("axis"))
            {
                long axis = n.Int("axis", 0);
                return (_, x) =>
                {
                    var (a, b) = (x[0]!, x[1]!);
                    long at = axis < 0 ? axis + a.dim() : axis;
                    var shape = Enumerable.Repeat(1L, (int)at).Concat(b.shape).Concat(Enumerable.Repeat(1L, (int)(a.dim() - at - b.dim()))).ToArray();
                    return One(f(a, b.reshape(shape)));
                };
            }
            return (_, x) => One(f(x[0]!, x[1]!));
        }, notes: "numpy broadcasting (opset 7+); opset 6's broadcast/axis attributes");

    private static OpDefinition ArgReduce(string op, Func<Tensor, long, bool, Tensor> f) =>
        new(op, n =>
        {
            long axis = n.Int("axis", 0);
            bool keep = n.Int("keepdims", 1) != 0, last = n.Int("select_last_index", 0) != 0;
            return (_, x) =>
            {
                var input = x[0]!;
                long a = Axis(axis, input.dim(), n);
                if (!last) return One(f(input, a, keep));
                // the last index of the extreme value: search the flipped tensor, map the index back
                var flipped = input.flip(a);
                return One(input.shape[a] - 1 - f(flipped, a, keep));
            };
        }, notes: "axis, keepdims, select_last_index");

    private static OpDefinition Variadic(string op, Func<Tensor, Tensor, Tensor> f, bool mean) =>
        new(op, _ => (_, x) =>
        {
            var acc = x[0]!;
            for (int i = 1; i < x.Length; i++) acc = f(acc, x[i]!);
            return One(mean ? acc / x.Length : acc);
        }, notes: "any number of inputs, broadcasting");

    private static OpRun Clip(ImportNode n)
    {
        if (n.Opset < 11)
        {
            double min = n.Float("min", float.MinValue), max = n.Float("max", float.MaxValue);
            return (_, x) => One(x[0]!.clamp(min, max));
        }
        var min11 = n.Constant(1);
        var max11 = n.Constant(2);
        bool minRuntime = n.HasInput(1) && min11 is null, maxRuntime = n.HasInput(2) && max11 is null;
        Scalar? minS = min11 is null ? null : Graph.OnnxTensors.Doubles(min11)[0].ToScalar();
        Scalar? maxS = max11 is null ? null : Graph.OnnxTensors.Doubles(max11)[0].ToScalar();
        return (_, x) =>
        {
            var lo = minRuntime ? Graph.OnnxTensors.Doubles(x[1]!)[0].ToScalar() : minS;
            var hi = maxRuntime ? Graph.OnnxTensors.Doubles(x[2]!)[0].ToScalar() : maxS;
            if (lo is null && hi is null) return One(x[0]!);
            return One(x[0]!.clamp(lo, hi));
        };
    }

    private static OpRun SoftmaxLike(ImportNode n, Func<Tensor, long, Tensor> f)
    {
        long axis = n.Int("axis", n.Opset >= 13 ? -1 : 1);
        if (n.Opset >= 13) return (_, x) => One(f(x[0]!, axis));
        return (_, x) =>
        {
            // opset < 13: coerce to 2-D [prod(d[0:axis]), prod(d[axis:])], softmax over the second dim, shape back
            var input = x[0]!;
            var dims = input.shape;
            int a = (int)Axis(axis, dims.Length, n);
            var flat = input.reshape(Product(dims, 0, a), Product(dims, a, dims.Length));
            return One(f(flat, 1).reshape(dims));
        };
    }

    private static OpRun Constant(ImportNode n)
    {
        Tensor value;
        if (n.Attribute("value") is { } v && v.T is not null) value = Graph.OnnxTensors.ToTensor(v.T, $"Constant node '{n.Label}'");
        else if (n.Has("value_float")) value = tensor(n.Float("value_float", 0));
        else if (n.Floats("value_floats") is { } fs) value = tensor(fs);
        else if (n.Has("value_int")) value = tensor(n.Int("value_int", 0));
        else if (n.Ints("value_ints") is { } ls) value = tensor(ls);
        else throw n.Error("only numeric values are supported (value, value_float(s), value_int(s)); not strings or sparse tensors.");
        return (_, _) => One(value);
    }

    private static OpRun Dropout(ImportNode n)
    {
        double? fixedRatio = n.Opset < 12 ? n.Float("ratio", 0.5f) : (n.HasInput(1) ? null : 0.5);
        if (n.Opset >= 12 && n.HasInput(1) && n.Constant(1) is { } r) fixedRatio = Graph.OnnxTensors.Doubles(r)[0];
        bool mask = n.OutputUsed(1);
        return (ctx, x) =>
        {
            var input = x[0]!;
            double ratio = fixedRatio ?? Graph.OnnxTensors.Doubles(x[1]!)[0];
            if (!ctx.Training || ratio == 0)
                return mask ? new[] { input, ones_like(input, ScalarType.Bool) } : One(input);
            if (!mask) return One(F.dropout(input, ratio, training: true));
            var keep = rand_like(input) >= ratio;
            return new[] { input * keep / (1 - ratio), keep };
        };
    }
}
