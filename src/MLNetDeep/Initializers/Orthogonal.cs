using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>
/// Orthogonal initialisation (Saxe et al., 2014): the weight, viewed as a matrix [rows = shape[0], cols = the rest],
/// gets orthonormal rows (or columns, when rows &gt; cols) times <see cref="Gain"/>, from the QR decomposition of a
/// Gaussian matrix. Keeps the norm of signals through deep linear and recurrent stacks. Default gain 1 (Keras).
/// </summary>
/// <remarks>For rows ≤ cols, W·Wᵀ = Gain²·I, so each entry has mean 0 and variance Gain² / cols (Gain² / rows otherwise).</remarks>
public sealed class Orthogonal : Initializer
{
    /// <summary>Multiplies the orthogonal matrix. Default 1.</summary>
    public double Gain { get; init; } = 1.0;

    /// <inheritdoc />
    public override string Name => "orthogonal";

    /// <inheritdoc />
    public override void Initialize(Tensor weight)
    {
        if (!(Gain > 0) || double.IsInfinity(Gain))
            throw new ArgumentOutOfRangeException(nameof(Gain), Gain, $"Orthogonal.Gain must be a finite number > 0. Received: Gain={Gain}");
        if (weight.dim() < 2)
            throw new ArgumentException($"Orthogonal initialisation needs a weight of at least 2 dimensions. Received: shape=[{string.Join(", ", weight.shape)}]");
        using var _ = no_grad();
        nn.init.orthogonal_(weight, Gain);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}(gain={Gain:G4})";
}
