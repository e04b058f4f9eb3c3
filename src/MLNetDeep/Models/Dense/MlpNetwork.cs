using MLNetDeep.Initializers;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Dense;

/// <summary>
/// The multilayer perceptron of an <see cref="MlpArchitecture"/>: the shared dense stack on the feature vector. Its
/// modules are named as every family's dense head ("head.layers.dense0", …, "head.layers.output"), so layer-wise
/// pretraining, transfer learning and diagnostics treat its hidden layers as they treat any head's.
/// </summary>
public sealed class MlpNetwork : DeepNetwork
{
    private readonly DenseHeadModule head;

    internal MlpNetwork(MlpArchitecture arch, int outputSize, Initializer? initializer) : base("mlp")
    {
        head = new DenseHeadModule(arch.InputSize, arch.Stack, outputSize, initializer);
        RegisterComponents();
    }

    /// <summary>x: [B, features] → [B, outputs].</summary>
    public override Tensor forward(Tensor x) => head.call(x);
}
