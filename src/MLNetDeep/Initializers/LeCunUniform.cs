using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>LeCun uniform: limit = sqrt(3 / fan_in).</summary>
public sealed class LeCunUniform : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public LeCunUniform()
    {
        Scale = 1.0;
        FanMode = FanMode.FanIn;
    }

    /// <inheritdoc />
    public override string Name => "lecun_uniform";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillUniform(weight);
}
