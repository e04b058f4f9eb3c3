using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>Glorot/Xavier uniform: limit = sqrt(6 / (fan_in + fan_out)). Default for tanh and sigmoid.</summary>
public sealed class GlorotUniform : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public GlorotUniform()
    {
        Scale = 1.0;
        FanMode = FanMode.FanAvg;
    }

    /// <inheritdoc />
    public override string Name => "glorot_uniform";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillUniform(weight);
}
