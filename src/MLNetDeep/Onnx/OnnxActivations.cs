using MLNetDeep.Activations;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>ONNX nodes for MLNetDeep's activations, matching TorchSharp's modules' defaults.</summary>
internal static class OnnxActivations
{
    // PyTorch's SELU constants (also ONNX's defaults), written explicitly.
    private const float SeluAlpha = 1.6732632423543772848170429916717f;
    private const float SeluGamma = 1.0507009873554804934193349852946f;

    /// <summary>Applies <paramref name="activation"/> to <paramref name="x"/>; returns the result's name (x itself for identity).</summary>
    public static string Emit(OnnxGraphBuilder g, Activation activation, string x, string hint, string layer)
    {
        switch (activation)
        {
            case Relu: return g.Node("Relu", new[] { x }, hint);
            case LeakyRelu l: return g.Node("LeakyRelu", new[] { x }, hint, Float("alpha", (float)l.Alpha));
            case Elu e: return g.Node("Elu", new[] { x }, hint, Float("alpha", (float)e.Alpha));
            case Selu: return g.Node("Selu", new[] { x }, hint, Float("alpha", SeluAlpha), Float("gamma", SeluGamma));
            case Gelu:
                if (g.Opset >= 20) return g.Node("Gelu", new[] { x }, hint, String("approximate", "none"));
                {
                    // exact GELU: 0.5 · x · (1 + erf(x / √2))
                    var scaled = g.Node("Div", new[] { x, g.FloatConstant("sqrt2", MathF.Sqrt(2f)) }, hint + "_div");
                    var erf = g.Node("Erf", new[] { scaled }, hint + "_erf");
                    var onePlus = g.Node("Add", new[] { erf, g.FloatConstant("one", 1f) }, hint + "_add");
                    var times = g.Node("Mul", new[] { x, onePlus }, hint + "_mul");
                    return g.Node("Mul", new[] { times, g.FloatConstant("half", 0.5f) }, hint);
                }
            case Softplus: return g.Node("Softplus", new[] { x }, hint);
            case Tanh: return g.Node("Tanh", new[] { x }, hint);
            case Sigmoid: return g.Node("Sigmoid", new[] { x }, hint);
            case Silu:
                {
                    // SiLU has no ONNX operator up to opset 23: x · sigmoid(x)
                    var s = g.Node("Sigmoid", new[] { x }, hint + "_sigmoid");
                    return g.Node("Mul", new[] { x, s }, hint);
                }
            case Identity: return x;
            case null: throw new OnnxExportException(layer, "its activation is not set.");
            default:
                throw new OnnxExportException(layer,
                    $"activation '{activation.Name}' ({activation.GetType().Name}) has no ONNX equivalent in the exporter. " +
                    "Exportable: relu, leaky_relu, elu, selu, gelu, softplus, tanh, sigmoid, silu, identity.");
        }
    }
}
