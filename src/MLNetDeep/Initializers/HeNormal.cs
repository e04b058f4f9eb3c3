using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>He/Kaiming normal: std = sqrt(2 / fan_in). Default for the ReLU family.</summary>
public sealed class HeNormal : VarianceScaling
{
    /// <summary>Creates the initializer with its standard scale and fan mode.</summary>
    public HeNormal()
    {
        Scale = 2.0;
        FanMode = FanMode.FanIn;
    }

    /// <inheritdoc />
    public override string Name => "he_normal";

    /// <inheritdoc />
    public override void Initialize(Tensor weight) => FillNormal(weight);
}
