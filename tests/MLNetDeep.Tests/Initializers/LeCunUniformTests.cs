using MLNetDeep.Initializers;
using Xunit;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class LeCunUniformTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // limit sqrt(3/fan_in): variance 1.0 / fi
        InitStats.CheckMoments(new LeCunUniform(), (fi, fo) => 1.0 / fi, uniformLimitFactor: 3.0);
}
