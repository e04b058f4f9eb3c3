using MLNetDeep.Initializers;
using Xunit;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class GlorotUniformTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // limit sqrt(6/(fan_in+fan_out)): variance 2.0 / (fi + fo)
        InitStats.CheckMoments(new GlorotUniform(), (fi, fo) => 2.0 / (fi + fo), uniformLimitFactor: 3.0);
}
