using Microsoft.ML;
using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class ConstantTests
{
    [Fact]
    public void FillsBiases()
    {
        var bias = nn.Linear(4, 3).bias!;
        new Constant(1.0).Initialize(bias);
        Assert.Equal(new[] { 1f, 1f, 1f }, bias.data<float>().ToArray());
    }

    [Fact]
    public void RefusesWeightsExplainingTheSymmetryProblem()
    {
        var e = Assert.Throws<ArgumentException>(() => new Constant(0.5).Initialize(nn.Linear(784, 128).weight!));
        Assert.Contains("same value 0.5", e.Message);
        Assert.Contains("same gradient", e.Message);
        Assert.Contains("symmetry", e.Message);
        Assert.Contains("GlorotUniform", e.Message);
    }

    [Fact]
    public void EqualWeightsReallyStayEqualUnderGradientDescent()
    {
        // The reason for the refusal, shown: two hidden units with identical incoming and outgoing weights get identical
        // gradients, so after any number of SGD steps they are still identical.
        torch.random.manual_seed(1);
        using var scope = NewDisposeScope();
        var hidden = nn.Linear(5, 2);
        var output = nn.Linear(2, 1);
        using (no_grad())
        {
            hidden.weight!.fill_(0.3); hidden.bias!.zero_();
            output.weight!.fill_(0.3); output.bias!.zero_();
        }
        var sgd = optim.SGD(hidden.parameters().Concat(output.parameters()), 0.1);
        var x = randn(32, 5);
        var y = randn(32, 1);
        for (int s = 0; s < 20; s++)
        {
            sgd.zero_grad();
            nn.functional.mse_loss(output.call(hidden.call(x).tanh()), y).backward();
            sgd.step();
        }
        var w = hidden.weight!.detach();
        Assert.True((w[0] - w[1]).abs().max().ToDouble() == 0, "the two units diverged");
        Assert.True((w[0] - 0.3).abs().max().ToDouble() > 1e-3, "the weights did not train at all");
    }

    [Fact]
    public void AsTheTrainersInitializerItFailsBeforeTraining()
    {
        var ml = new Microsoft.ML.MLContext(1);
        var data = Support.TestData.TrainView(ml, 64);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var trainer = ml.MulticlassClassification.Trainers.Cnn(new Models.Cnn.CnnOptions { ImageShape = new Models.Cnn.ImageShape(1, 28, 28), Epochs = 1, Initializer = new Constant(0.1) });
        var e = Assert.Throws<ArgumentException>(() => trainer.Fit(keyed));
        Assert.Contains("symmetry", e.Message);
    }
}
