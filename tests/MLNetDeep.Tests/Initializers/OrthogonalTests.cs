using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class OrthogonalTests
{
    [Theory]
    [InlineData(128, 784, 1.0)]  // wide dense layer: orthonormal rows
    [InlineData(256, 100, 1.0)]  // tall (LSTM input matrix): orthonormal columns
    [InlineData(64, 64, 1.4)]    // square recurrent matrix with a gain
    public void RowsOrColumnsAreOrthonormalTimesTheGain(int rows, int cols, double gain)
    {
        torch.random.manual_seed(11);
        using var scope = NewDisposeScope();
        var w = empty(rows, cols);
        new Orthogonal { Gain = gain }.Initialize(w);
        var gram = rows <= cols ? w.mm(w.t()) : w.t().mm(w);
        var identity = eye(Math.Min(rows, cols)) * (gain * gain);
        Assert.True((gram - identity).abs().max().ToDouble() < 1e-4, "WWᵀ (or WᵀW) differs from gain²·I");
        // Each of min(rows, cols) unit vectors spreads gain² over max(rows, cols) entries.
        double variance = w.var(unbiased: false).ToDouble(), theory = gain * gain / Math.Max(rows, cols);
        Assert.True(Math.Abs(variance / theory - 1) < 0.05, $"variance {variance:G4}, theory {theory:G4}");
        Assert.True(Math.Abs(w.mean().ToDouble()) < 5 * Math.Sqrt(theory / (rows * cols)));
    }

    [Fact]
    public void ConvolutionKernelsAreOrthogonalAsFlattenedRows()
    {
        torch.random.manual_seed(12);
        using var scope = NewDisposeScope();
        var w = nn.Conv2d(32, 64, 3).weight!;
        new Orthogonal().Initialize(w);
        var flat = w.detach().reshape(64, -1); // 64 × 288
        Assert.True((flat.mm(flat.t()) - eye(64)).abs().max().ToDouble() < 1e-4);
    }

    [Fact]
    public void RejectsBiasesAndBadGain()
    {
        Assert.Throws<ArgumentException>(() => new Orthogonal().Initialize(zeros(10)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Orthogonal { Gain = 0 }.Initialize(zeros(3, 3)));
        Assert.Contains("Received: Gain=0", e.Message);
    }
}
