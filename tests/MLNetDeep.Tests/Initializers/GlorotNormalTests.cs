using MLNetDeep.Initializers;
using Xunit;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class GlorotNormalTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // std sqrt(2/(fan_in+fan_out)): variance 2.0 / (fi + fo)
        InitStats.CheckMoments(new GlorotNormal(), (fi, fo) => 2.0 / (fi + fo));
}
