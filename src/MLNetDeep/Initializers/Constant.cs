using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>
/// Every element = <see cref="Value"/>: for biases and normalisation parameters (1-D tensors), e.g. a forget-gate
/// bias of 1 or a batch-norm scale. Refuses weight matrices: see <see cref="Initialize"/>.
/// </summary>
public sealed class Constant : Initializer
{
    /// <summary>Creates a constant initializer with value 0.</summary>
    public Constant() { }

    /// <summary>Creates a constant initializer.</summary>
    public Constant(double value) { Value = value; }

    /// <summary>The value every element gets.</summary>
    public double Value { get; init; }

    /// <inheritdoc />
    public override string Name => "constant";

    /// <summary>
    /// Fills a 1-D tensor (bias, scale) with <see cref="Value"/>. A tensor of 2 or more dimensions is a weight, and an
    /// all-equal weight is refused: every unit of the layer would compute the same output, receive the same gradient and
    /// stay identical for ever (the symmetry is never broken), so the layer would act as a single unit.
    /// </summary>
    public override void Initialize(Tensor weight)
    {
        if (!double.IsFinite(Value))
            throw new ArgumentOutOfRangeException(nameof(Value), Value, $"Constant.Value must be finite. Received: Value={Value}");
        Fill(weight, Value, "Constant");
    }

    /// <summary>Fills a 1-D tensor; refuses weights (2+ dimensions) with the symmetry explanation.</summary>
    internal static void Fill(Tensor weight, double value, string initializer)
    {
        if (weight.dim() >= 2)
            throw new ArgumentException(
                $"{initializer} would give every weight of this [{string.Join(", ", weight.shape)}] layer the same value {value}. " +
                "Units with equal weights compute the same output and receive the same gradient, so they stay equal for ever: " +
                "the symmetry between them is never broken and the layer learns like a single unit. " +
                "Use a random initializer for weights (GlorotUniform, HeNormal, LeCunNormal, Orthogonal; or leave Initializer null to choose by activation); " +
                "constant values are for biases and normalisation parameters.");
        using var _ = no_grad();
        weight.fill_(value);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}({Value:G4})";
}
