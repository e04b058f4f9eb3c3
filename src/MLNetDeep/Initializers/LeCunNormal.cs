using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>LeCun normal: std = sqrt(1 / fan_in). The default for SELU (self-normalising networks).</summary>
public sealed class LeCunNormal : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public LeCunNormal()
    {
        Scale = 1.0;
        FanMode = FanMode.FanIn;
    }

    /// <inheritdoc />
    public override string Name => "lecun_normal";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillNormal(weight);
}
