using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Tensor = TorchSharp.torch.Tensor;
using MLNetDeep.OnnxImport;
using MLNetDeep.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// The ImageNet ResNet18 of NuGet's Microsoft.ML.DnnImageFeaturizer.ResNet18 (CNTK 2.6 export, opset 8) imported:
/// eval-mode features match ONNX Runtime on the same file within 1e-4 on real images (Fashion-MNIST resized to
/// 224×224), in one batch although the file declares batch 1; its blocks; cutting; a training step; save and load.
/// This CNTK "ResNet18" has 22 convolutions: the stem, then 2, 2, 2 and 3 basic residual units (64, 128, 256, 512
/// channels), 15.9 M weights, where torchvision's ResNet18 has 2 units in the last stage.
/// </summary>
public sealed class ResNet18ImportTests
{
    private const int Images = 6;
    private readonly ITestOutputHelper _out;
    public ResNet18ImportTests(ITestOutputHelper output) => _out = output;

    private static readonly Lazy<float[][]> Inputs = new(() => ImageInputs.ResNet(Images));

    /// <summary>ONNX Runtime's 512 features per image, one run per image (the file's batch dimension is fixed at 1).</summary>
    private static readonly Lazy<float[][]> Reference = new(() =>
    {
        using var session = new InferenceSession(OnnxFiles.ResNet18);
        return Inputs.Value.Select(image =>
        {
            var input = new DenseTensor(image, new[] { 1, 3, 224, 224 });
            using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor(OnnxFiles.ResNet18Input, input) });
            return outputs.Single(o => o.Name == OnnxFiles.ResNet18Output).AsTensor<float>().ToArray();
        }).ToArray();
    });

    private static Tensor Batch(int n = Images) => tensor(Inputs.Value.Take(n).SelectMany(x => x).ToArray(), new long[] { n, 3, 224, 224 });

    [Fact]
    public void EvalMode_MatchesOnnxRuntime_WithinOneE4_InOneBatchOfSix()
    {
        using var net = OnnxNetwork.Load(OnnxFiles.ResNet18);
        net.eval();
        Assert.Equal(new[] { OnnxFiles.ResNet18Input }, net.InputNames);
        Assert.Equal(new[] { OnnxFiles.ResNet18Output }, net.OutputNames);
        Assert.Equal(new long?[] { 1, 3, 224, 224 }, net.InputShapes[0]);
        Assert.Equal(8, net.Opset);
        Assert.Equal("CNTK", net.ProducerName);
        using var scope = NewDisposeScope();
        Tensor features;
        using (no_grad()) features = net.forward(Batch());
        Assert.Equal(new long[] { Images, 512, 1, 1 }, features.shape);
        double worst = 0, largest = 0;
        for (int i = 0; i < Images; i++)
        {
            var ours = features[i].flatten().data<float>().ToArray();
            var reference = Reference.Value[i];
            worst = Math.Max(worst, ours.Zip(reference, (a, b) => Math.Abs(a - b)).Max());
            largest = Math.Max(largest, reference.Max(Math.Abs));
        }
        _out.WriteLine($"max abs diff vs ONNX Runtime over {Images}×512 features: {worst:G3} (largest feature {largest:G3})");
        Assert.True(largest > 1, "the features should not be trivially small");
        Assert.True(worst <= 1e-4, $"max abs diff {worst}");
    }

    [Fact]
    public void Blocks_AreTheStemAndTheNineResidualUnits_AndRunInPieces()
    {
        using var net = OnnxNetwork.Load(OnnxFiles.ResNet18);
        net.eval();
        foreach (var b in net.Blocks) _out.WriteLine(b.Description);
        Assert.Equal(10, net.Blocks.Count);
        Assert.Equal(new[] { "Conv", "BatchNormalization", "Relu", "MaxPool" }, net.Blocks[0].OperatorTypes);
        for (int b = 1; b <= 9; b++)
        {
            var ops = net.Blocks[b].OperatorTypes;
            Assert.Equal(1, ops.Count(o => o == "Add"));
            Assert.Equal(b is 3 or 5 or 7 ? 3 : 2, ops.Count(o => o == "Conv")); // the first unit of the 128, 256 and 512 stages has a 1×1 projection
            Assert.Equal("Relu", ops[ops.Count - 1 - (b == 9 ? 1 : 0)]);
        }
        Assert.Equal("AveragePool", net.Blocks[9].OperatorTypes[^1]);

        // parameters live under their block; running statistics are buffers, not parameters
        var model = MLNetDeep.Onnx.Proto.ModelProto.Parse(File.ReadAllBytes(OnnxFiles.ResNet18));
        var statistics = model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Inputs.Skip(3)).ToHashSet();
        long weightsInFile = model.Graph.Initializers.Where(t => !statistics.Contains(t.Name)).Sum(t => t.ElementCount);
        var parameters = net.named_parameters().ToList();
        Assert.Equal(weightsInFile, parameters.Sum(p => p.parameter.numel()));
        _out.WriteLine($"{parameters.Count} parameters, {weightsInFile:N0} weights");
        Assert.All(parameters, p => Assert.Matches(@"^block[0-9]\.", p.name));
        Assert.Equal(22 * 2, parameters.Count(p => p.parameter.dim() == 1));      // BN scale and bias
        Assert.Equal(22, parameters.Count(p => p.parameter.dim() == 4));          // conv weights (no biases)
        Assert.Equal(22 * 2, net.named_buffers().Count());                         // BN mean and variance
        Assert.Equal("block0.Parameter91", net.ParameterNames["Parameter91"]);   // the 7×7 stem convolution
        Assert.Equal(new long[] { 64, 3, 7, 7 }, net.get_parameter("block0.Parameter91").shape);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = Batch(2);
        var whole = net.forward(x);
        var prefix = net.ForwardBlocks(x, 0, 5);                 // what a frozen backbone would cache: the 128-channel stage
        Assert.Equal(new long[] { 2, 128, 28, 28 }, prefix.shape);
        var rest = net.ForwardBlocks(prefix, 5, 10);
        Assert.Equal(0, (whole - rest).abs().max().item<float>());
        var stepwise = x;
        foreach (var block in net.Blocks) stepwise = block.forward(stepwise);
        Assert.Equal(0, (whole - stepwise).abs().max().item<float>());
    }

    [Fact]
    public void OutputName_CutsTheGraph_AndAnUnknownNameListsCandidates()
    {
        using var full = OnnxNetwork.Load(OnnxFiles.ResNet18);
        full.eval();
        var cut = full.Blocks[2].OutputName;
        using var backbone = OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { OutputName = cut });
        backbone.eval();
        Assert.Equal(3, backbone.Blocks.Count);
        Assert.Equal(new[] { cut }, backbone.OutputNames);
        Assert.True(backbone.parameters().Sum(p => p.numel()) < 300_000);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var x = Batch(1);
            Assert.Equal(0, (backbone.forward(x) - full.ForwardBlocks(x, 0, 3)).abs().max().item<float>());
        }

        var e = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { OutputName = "Pooling_395" }));
        _out.WriteLine(e.Message);
        Assert.Contains("'Pooling_395' is not a value of the graph", e.Message);
        Assert.Contains($"'{OnnxFiles.ResNet18Output}'", e.Message);
        Assert.Contains($"'{cut}'", e.Message);

        var input = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { InputName = "images" }));
        Assert.Contains($"Graph inputs: '{OnnxFiles.ResNet18Input}'", input.Message);
    }

    /// <summary>Train mode: a few SGD steps on a small real batch lower the loss, move the weights, and update the batch-norm statistics (eval mode leaves them alone).</summary>
    [Fact]
    public void TrainMode_GradientStepsLowerTheLoss_AndUpdateBatchNormStatistics()
    {
        using var net = OnnxNetwork.Load(OnnxFiles.ResNet18);
        random.manual_seed(1);
        using var head = nn.Linear(512, 2);
        var x = Batch(4);
        var y = tensor(new long[] { 0, 1, 0, 1 });
        var mean = net.get_buffer("block0.Constant98");   // the stem's running mean
        var before = mean.clone();
        var stem = net.get_parameter("block0.Parameter91").clone();
        using (no_grad())
        {
            net.eval();
            net.forward(x);
        }
        Assert.Equal(0, (mean - before).abs().max().item<float>());

        net.train();
        var optimizer = optim.SGD(net.parameters().Concat(head.parameters()), 0.01, momentum: 0.9);
        var losses = new List<float>();
        for (int step = 0; step < 4; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var logits = head.forward(net.forward(x).flatten(1));
            var loss = nn.functional.cross_entropy(logits, y);
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }
        _out.WriteLine($"losses: {string.Join(", ", losses.Select(l => l.ToString("F4")))}");
        Assert.True(losses[^1] < losses[0], $"loss did not go down: {string.Join(", ", losses)}");
        Assert.True((net.get_parameter("block0.Parameter91") - stem).abs().max().item<float>() > 0, "the stem weights did not move");
        Assert.True((mean - before).abs().max().item<float>() > 0, "train mode did not update the running mean");
        Assert.NotNull(net.get_parameter(net.ParameterNames["Parameter10"]).grad); // the last convolution
    }

    [Fact]
    public void State_SavesAndLoadsWithTorchSharp()
    {
        var path = Path.Combine(Path.GetTempPath(), $"resnet18-{Guid.NewGuid():N}.dat");
        try
        {
            Tensor expected;
            using (var net = OnnxNetwork.Load(OnnxFiles.ResNet18))
            {
                using (no_grad())
                    foreach (var p in net.Blocks[9].parameters()) p.mul_(0.5);   // a change the file does not have
                net.eval();
                using (no_grad()) expected = net.forward(Batch(1)).detach().clone();
                net.save(path);
            }
            using var fresh = OnnxNetwork.Load(OnnxFiles.ResNet18);
            fresh.eval();
            using (no_grad()) Assert.True((fresh.forward(Batch(1)) - expected).abs().max().item<float>() > 1e-3);
            fresh.load(path);
            using (no_grad()) Assert.Equal(0, (fresh.forward(Batch(1)) - expected).abs().max().item<float>());
        }
        finally
        {
            if (File.Exists(path)) File.Delete(path);
        }
    }

    [Fact]
    public void Preprocess_Graph_MatchesOnnxRuntime()
    {
        using var pre = OnnxNetwork.Load(OnnxFiles.ResNetPreprocess);
        pre.eval();
        Assert.Equal(new[] { "Split", "Concat", "Sub" }, pre.Blocks.SelectMany(b => b.OperatorTypes));
        var image = Inputs.Value[0];
        using var session = new InferenceSession(OnnxFiles.ResNetPreprocess);
        var name = session.InputMetadata.Keys.Single();
        using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor(name, new DenseTensor(image, new[] { 1, 3, 224, 224 })) });
        var reference = outputs.First().AsTensor<float>().ToArray();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ours = pre.forward(tensor(image, new long[] { 1, 3, 224, 224 })).flatten().data<float>().ToArray();
        Assert.Equal(0, ours.Zip(reference, (a, b) => Math.Abs(a - b)).Max());
    }
}
