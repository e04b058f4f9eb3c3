using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>All zeros: the usual bias initialisation (what the trainers already do for biases). Refuses weight matrices, like <see cref="Constant"/>.</summary>
public sealed class Zeros : Initializer
{
    /// <inheritdoc />
    public override string Name => "zeros";

    /// <summary>Fills a 1-D tensor with zeros; a weight (2+ dimensions) is refused because all-equal weights never break their symmetry.</summary>
    public override void Initialize(Tensor weight) => Constant.Fill(weight, 0.0, "Zeros");
}
