using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>Glorot/Xavier normal: std = sqrt(2 / (fan_in + fan_out)).</summary>
public sealed class GlorotNormal : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public GlorotNormal()
    {
        Scale = 1.0;
        FanMode = FanMode.FanAvg;
    }

    /// <inheritdoc />
    public override string Name => "glorot_normal";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillNormal(weight);
}
