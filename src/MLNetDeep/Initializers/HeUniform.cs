using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>He/Kaiming uniform: limit = sqrt(6 / fan_in). For the ReLU family.</summary>
public sealed class HeUniform : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public HeUniform()
    {
        Scale = 2.0;
        FanMode = FanMode.FanIn;
    }

    /// <inheritdoc />
    public override string Name => "he_uniform";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillUniform(weight);
}
