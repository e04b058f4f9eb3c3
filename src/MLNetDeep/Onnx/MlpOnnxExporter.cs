using MLNetDeep.Models;
using MLNetDeep.Models.Dense;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes an <see cref="MlpArchitecture"/> network: the shared dense stack on the [N, features] input (batch norm folded
/// into the Linear before an activation, or a BatchNormalization node after one; skip connections as Add; dropout dropped).
/// </summary>
internal sealed class MlpOnnxExporter : OnnxNetworkExporter
{
    public override Type ArchitectureType => typeof(MlpArchitecture);

    public override IReadOnlyList<object> InputDims(NetworkArchitecture architecture) =>
        new object[] { (long)((MlpArchitecture)architecture).InputSize };

    public override string Emit(OnnxExportContext ctx, string input)
    {
        var arch = (MlpArchitecture)ctx.Architecture;
        var raw = OnnxLayers.DenseHead(ctx, arch.Stack, input, owner: MlpOptions.Name);
        ctx.CheckAllParametersUsed();
        return raw;
    }
}
