using MLNetDeep.Models;
using MLNetDeep.Models.Custom;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes a <see cref="CustomArchitecture"/> network: a reshape of the flat input to [N, ...InputShape], then the user's
/// module through <see cref="ModuleOnnx"/> (Sequential containers of standard layers; anything else is refused naming
/// the module's path and type). The shared exporter adds the task head.
/// </summary>
internal sealed class CustomOnnxExporter : OnnxNetworkExporter
{
    public override Type ArchitectureType => typeof(CustomArchitecture);

    public override IReadOnlyList<object> InputDims(NetworkArchitecture architecture) =>
        new object[] { ((CustomArchitecture)architecture).InputShape.Aggregate(1L, (a, b) => a * b) };

    public override string Emit(OnnxExportContext ctx, string input)
    {
        var arch = (CustomArchitecture)ctx.Architecture;
        var network = (CustomNetwork)ctx.Network;
        var g = ctx.Graph;
        var shape = new[] { -1L }.Concat(arch.InputShape.Select(d => (long)d)).ToArray();
        string x = g.Node("Reshape", new[] { input, g.Int64Constant("input_shape", shape, shape.Length) }, "input");
        using var scope = NewDisposeScope();
        var device = network.parameters().FirstOrDefault()?.device ?? CPU;
        var probe = zeros(new[] { 1L }.Concat(shape.Skip(1)).ToArray(), device: device); // one row through the real modules, for the shapes
        var raw = ModuleOnnx.Emit(ctx, network.Module, "module", x, ref probe);
        // one value per row as [N] becomes [N, 1], as CustomNetwork.forward does: the head expects [N, outputs]
        if (probe.dim() == 1) raw = g.Node("Reshape", new[] { raw, g.Int64Constant("shape_outputs", new long[] { -1, 1 }, 2) }, "outputs");
        ctx.CheckAllParametersUsed();
        return raw;
    }
}
