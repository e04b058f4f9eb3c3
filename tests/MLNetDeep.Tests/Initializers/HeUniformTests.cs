using MLNetDeep.Initializers;
using Xunit;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class HeUniformTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // limit sqrt(6/fan_in): variance 2.0 / fi
        InitStats.CheckMoments(new HeUniform(), (fi, fo) => 2.0 / fi, uniformLimitFactor: 3.0);
}
