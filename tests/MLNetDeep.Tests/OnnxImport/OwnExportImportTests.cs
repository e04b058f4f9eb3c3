using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.OnnxImport;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;
using MLNetDeep.Models.Sequence;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// import(export(m)) scores like m: every CNN configuration the ONNX export parity tests use (activations, pooling,
/// padding, residual blocks, batch norm folded or as nodes, global average pooling, dense heads; multiclass, binary,
/// regression; opsets 17 to 23), trained one epoch on real Fashion-MNIST rows, exported, imported, and run in eval mode
/// on 64 test rows: the imported network's output (the graph's first output, Score) is within 1e-4 of the
/// transformer's Score column; and the sequence models (LSTM, GRU, RNN; stacked, bidirectional, every summary, rows of
/// different lengths through the Lengths input).
/// </summary>
public sealed class OwnExportImportTests
{
    private readonly ITestOutputHelper _out;
    public OwnExportImportTests(ITestOutputHelper output) => _out = output;

    private static CnnOptions Cnn(List<CnnLayer> layers, FlattenMode flatten = FlattenMode.Flatten, DenseHead? head = null) =>
        MLNetDeep.Tests.Onnx.OnnxCnnParityTests.Options(layers, flatten, head);

    public static TheoryData<string> Configurations => new()
    {
        "activations relu leaky elu selu gelu", "activations softplus tanh sigmoid silu identity", "gelu opset 20", "pooling", "padding and strides", "residual", "bn nodes and bn head",
        "gap linear head", "binary", "regression", "reference cnn opset 23",
    };

    private static (PredictionKind Kind, CnnOptions Options, OnnxExportOptions Export) Configuration(string name)
    {
        var act = new Activation[] { new Relu(), new LeakyRelu { Alpha = 0.2 }, new Elu { Alpha = 0.7 }, new Selu(), new Gelu(), new Softplus(), new Tanh(), new Sigmoid(), new Silu(), new Identity() };
        var multi = PredictionKind.MulticlassClassification;
        return name switch
        {
            "activations relu leaky elu selu gelu" => (multi, Activations(act.Take(5)), new OnnxExportOptions()),
            "activations softplus tanh sigmoid silu identity" => (multi, Activations(act.Skip(5)), new OnnxExportOptions { Opset = 22 }),
            "gelu opset 20" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max) { Activation = new Gelu() } }, head: new DenseHead { HiddenSizes = new() { 16 }, Activation = new Gelu() }),
                new OnnxExportOptions { Opset = 20 }),
            "pooling" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(8, 3, PoolingKind.Average), new ConvBlock(8, 3, PoolingKind.None), new ConvBlock(8, 3, PoolingKind.Average) { PoolSize = 3 } }),
                new OnnxExportOptions()),
            "padding and strides" => (multi, Cnn(new()
            {
                new ConvBlock(8, 3) { Padding = PaddingMode.Same, Stride = 2 },
                new ConvBlock(8, 4) { Padding = PaddingMode.Same },
                new ConvBlock(8, 3) { Padding = PaddingMode.Valid },
                new ConvBlock(8, 3) { Padding = PaddingMode.Explicit, PaddingSize = 2, Stride = 2 },
                new ConvBlock(8, 5) { Padding = PaddingMode.Same, Stride = 2, BatchNorm = false },
            }), new OnnxExportOptions()),
            "residual" => (multi, Cnn(new()
            {
                new ConvBlock(8, 3), new ResidualBlock(8), new ResidualBlock(12, 2) { Pooling = PoolingKind.Max },
                new ResidualBlock(16, 2) { BatchNorm = false, Activation = new Elu(), KernelSize = 2 },
            }), new OnnxExportOptions { Opset = 18 }),
            "bn nodes and bn head" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(16, 2) },
                head: new DenseHead { HiddenSizes = new() { 32, 16 }, BatchNorm = true }), new OnnxExportOptions { FoldBatchNorm = false, Opset = 21 }),
            "gap linear head" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(16, 3) }, FlattenMode.GlobalAveragePool,
                new DenseHead { HiddenSizes = new(), InputDropout = 0 }), new OnnxExportOptions { Opset = 19 }),
            "binary" => (PredictionKind.BinaryClassification, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(8, 2) }), new OnnxExportOptions()),
            "regression" => (PredictionKind.Regression, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Average) { Activation = new Tanh() } },
                head: new DenseHead { HiddenSizes = new() { 16 }, BatchNorm = true }), new OnnxExportOptions { FoldBatchNorm = false }),
            "reference cnn opset 23" => (multi, new CnnOptions { ImageShape = new ImageShape(1, 28, 28) }, new OnnxExportOptions { Opset = 23 }),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    /// <summary>Five conv blocks, one activation each (batch norm on every other, max pooling on two), and a dense head with the last one.</summary>
    private static CnnOptions Activations(IEnumerable<Activation> activations)
    {
        var list = activations.ToList();
        return Cnn(list.Select((a, i) => (CnnLayer)new ConvBlock(4, 3, i is 1 or 3 ? PoolingKind.Max : PoolingKind.None) { Activation = a, BatchNorm = i % 2 == 0 }).ToList(),
            head: new DenseHead { HiddenSizes = new() { 8 }, Activation = list[^1] });
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ImportOfExport_ScoresLikeTheModel(string configuration)
    {
        var (kind, options, export) = Configuration(configuration);
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, kind, options);
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, export);
        stream.Position = 0;
        using var imported = OnnxNetwork.Load(stream);
        imported.eval();
        Assert.Equal(OnnxNames.Score, imported.OutputNames[0]);
        Assert.Equal("MLNetDeep", imported.ProducerName);

        var expected = RunTransformer(pipeline, TestView(ml, kind), kind, model.ClassNames)[OnnxNames.Score].Cast<float>().ToArray();
        var rows = TestFeatures();
        using var scope = NewDisposeScope();
        float[] actual;
        using (no_grad()) actual = imported.forward(tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length })).flatten().data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        _out.WriteLine($"{configuration}: {imported.Blocks.Count} blocks, max abs diff {diff:G3}; " + string.Join(" | ", imported.Blocks.Select(b => string.Join(",", b.OperatorTypes))));
        Assert.True(diff <= Tolerance, $"{configuration}: max abs diff {diff}");
        Assert.True(expected.Distinct().Count() > 1, "the scores should vary between rows");
    }

    public static TheoryData<RecurrentCell, int, bool, SequenceSummary, bool, int> SequenceConfigurations => new()
    {
        // cell, layers, bidirectional, summary, rows of different lengths (the Lengths input), opset
        { RecurrentCell.Lstm, 1, false, SequenceSummary.LastState, false, 17 },
        { RecurrentCell.Gru, 2, true, SequenceSummary.MeanOverTime, false, 18 },
        { RecurrentCell.Rnn, 1, true, SequenceSummary.MaxOverTime, false, 17 },
        { RecurrentCell.Lstm, 2, true, SequenceSummary.MaxOverTime, true, 17 },
        { RecurrentCell.Gru, 1, false, SequenceSummary.MeanOverTime, true, 18 },
        { RecurrentCell.Rnn, 2, false, SequenceSummary.LastState, true, 17 },
    };

    /// <summary>
    /// Sequence models (LSTM, GRU, tanh RNN; stacked, bidirectional; last state, mean or max over time) read Fashion-MNIST
    /// images row by row; with the Lengths input the rows have 4 to 28 steps and one padded batch holds them all.
    /// </summary>
    [Theory]
    [MemberData(nameof(SequenceConfigurations))]
    public void SequenceModels_ImportOfExport_ScoresLikeTheModel(RecurrentCell cell, int layers, bool bidirectional, SequenceSummary summary, bool variable, int opset)
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Options(cell, layers: layers, bidirectional: bidirectional, summary: summary);
        var trainRows = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.VariableRows(MLNetDeep.Tests.Support.TestData.TrainImages(256));
        var testRows = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.VariableRows(MLNetDeep.Tests.Support.TestData.TestImages(TestRows));
        if (!variable)
        {
            trainRows = MLNetDeep.Tests.Support.TestData.TrainImages(256).Select(i => new MLNetDeep.Tests.Onnx.VariableImageRow { Features = i.Features, Label = i.Label }).ToList();
            testRows = MLNetDeep.Tests.Support.TestData.TestImages(TestRows).Select(i => new MLNetDeep.Tests.Onnx.VariableImageRow { Features = i.Features, Label = i.Label }).ToList();
        }
        var (pipeline, model) = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification, options, ml.Data.LoadFromEnumerable(trainRows));
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, new OnnxExportOptions { Opset = opset, SequenceLengthsInput = variable });
        stream.Position = 0;
        using var imported = OnnxNetwork.Load(stream);
        imported.eval();
        var expected = RunTransformer(pipeline, ml.Data.LoadFromEnumerable(testRows), PredictionKind.MulticlassClassification, model.ClassNames)[OnnxNames.Score].Cast<float>().ToArray();

        // one batch, padded with 7s (which must not matter) to the longest row
        int width = testRows.Max(r => r.Features.Length);
        var data = new float[testRows.Count * width];
        Array.Fill(data, 7f);
        for (int i = 0; i < testRows.Count; i++) testRows[i].Features.CopyTo(data, i * width);
        using var scope = NewDisposeScope();
        var x = tensor(data, new long[] { testRows.Count, width });
        Tensor score;
        using (no_grad())
        {
            if (variable)
            {
                Assert.Equal(new[] { "Features", OnnxNames.Lengths }, imported.InputNames);
                var lengths = tensor(testRows.Select(r => r.Features.Length / 28).ToArray());
                score = imported.ForwardAll(x, lengths)[0];
            }
            else score = imported.forward(x);
        }
        var actual = score.flatten().data<float>().ToArray();
        double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        _out.WriteLine($"{cell} ×{layers}{(bidirectional ? " bidirectional" : "")} {summary}{(variable ? " variable lengths" : "")} opset {opset}: " +
                       $"max abs diff {diff:G3}; ops {string.Join(",", imported.Blocks.SelectMany(b => b.OperatorTypes).Distinct())}");
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
    }

    /// <summary>Token sequences (ids through the trained embedding, a Gather over a parameter), rows of different lengths, some unknown tokens.</summary>
    [Fact]
    public void TokenSequenceModel_ImportOfExport_ScoresLikeTheModel()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Options(RecurrentCell.Gru, bidirectional: true);
        options.Input = new TokenSequence(8) { VocabularySize = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Vocabulary };
        var train = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.TokenRows(MLNetDeep.Tests.Support.TestData.TrainImages(256), variable: true);
        var test = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.TokenRows(MLNetDeep.Tests.Support.TestData.TestImages(TestRows), variable: true);
        test[3].Features[1] = 0;   // unknown tokens: the embedding's zero row
        var (pipeline, model) = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification, options, ml.Data.LoadFromEnumerable(train));
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, new OnnxExportOptions { SequenceLengthsInput = true });
        stream.Position = 0;
        using var imported = OnnxNetwork.Load(stream);
        imported.eval();
        Assert.Contains(imported.named_parameters(), p => p.parameter.shape.SequenceEqual(new long[] { MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Vocabulary + 1, 8 }));
        var expected = RunTransformer(pipeline, ml.Data.LoadFromEnumerable(test), PredictionKind.MulticlassClassification, model.ClassNames)[OnnxNames.Score].Cast<float>().ToArray();
        int width = test.Max(r => r.Features.Length);
        var data = new float[test.Count * width];
        for (int i = 0; i < test.Count; i++) test[i].Features.Select(v => (float)v).ToArray().CopyTo(data, i * width);
        using var scope = NewDisposeScope();
        float[] actual;
        using (no_grad())
            actual = imported.ForwardAll(tensor(data, new long[] { test.Count, width }), tensor(test.Select(r => r.Features.Length).ToArray()))[0].flatten().data<float>().ToArray();
        double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        _out.WriteLine($"tokens, GRU bidirectional, variable lengths: max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
    }

    /// <summary>An imported LSTM trains: a few Adam steps on real rows lower the loss and move the recurrent weights.</summary>
    [Fact]
    public void ImportedLstm_TrainsInTrainMode()
    {
        var ml = new MLContext(seed: 1);
        var (_, model) = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Fit(ml, PredictionKind.MulticlassClassification,
            MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Options(RecurrentCell.Lstm), TrainView(ml, PredictionKind.MulticlassClassification));
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        stream.Position = 0;
        using var net = OnnxNetwork.Load(stream);
        net.train();
        var images = MLNetDeep.Tests.Support.TestData.TrainImages(64);
        var x = tensor(images.SelectMany(i => i.Features).ToArray(), new long[] { 64, 784 });
        var y = tensor(images.Select(i => (long)model.ClassNames.ToList().IndexOf(i.Label)).ToArray());
        var recurrent = net.named_parameters().First(p => p.parameter.dim() == 3).parameter;   // LSTM's W [1, 4H, I]
        var before = recurrent.detach().clone();
        var optimizer = optim.Adam(net.parameters(), 0.01);
        var losses = new List<float>();
        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.nll_loss(net.forward(x).clamp_min(1e-7).log(), y);   // Score is the softmax
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }
        _out.WriteLine($"losses: {string.Join(", ", losses.Select(l => l.ToString("F4")))}");
        Assert.True(losses[^1] < losses[0], $"loss did not go down: {string.Join(", ", losses)}");
        Assert.True((recurrent - before).abs().max().item<float>() > 0, "the LSTM weights did not move");
    }

    /// <summary>A sequence tagger (bidirectional LSTM, one tag per step, rows of different lengths): the per-step probabilities [N, T, tags] match on every real step.</summary>
    [Fact]
    public void SequenceTagger_ImportOfExport_ScoresEveryStepLikeTheModel()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Options(RecurrentCell.Lstm, bidirectional: true, head: new DenseHead { HiddenSizes = new() { 16 } });
        options.Epochs = 1;
        options.BatchSize = 32;
        options.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        var trainRows = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.TaggedRows(MLNetDeep.Tests.Support.TestData.TrainImages(256), tokens: false);
        var testRows = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.TaggedRows(MLNetDeep.Tests.Support.TestData.TestImages(TestRows), tokens: false);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.SequenceTagging(options))
            .Fit(ml.Data.LoadFromEnumerable(trainRows));
        var model = (DeepTransformer)((IEnumerable<ITransformer>)pipeline).Last();
        var scores = pipeline.Transform(ml.Data.LoadFromEnumerable(testRows)).GetColumn<float[]>("Score").ToArray();
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, new OnnxExportOptions { SequenceLengthsInput = true });
        stream.Position = 0;
        using var imported = OnnxNetwork.Load(stream);
        imported.eval();
        int k = model.ClassNames.Count, width = testRows.Max(r => r.Features.Length);
        var data = new float[testRows.Count * width];
        for (int i = 0; i < testRows.Count; i++) testRows[i].Features.CopyTo(data, i * width);
        var lengths = testRows.Select(r => r.Features.Length / 28).ToArray();
        using var scope = NewDisposeScope();
        Tensor score;
        using (no_grad()) score = imported.ForwardAll(tensor(data, new long[] { testRows.Count, width }), tensor(lengths))[0];
        Assert.Equal(new long[] { testRows.Count, width / 28, k }, score.shape);
        double diff = 0;
        for (int i = 0; i < testRows.Count; i++)
        {
            var row = score[i].data<float>().ToArray();
            for (int j = 0; j < lengths[i] * k; j++) diff = Math.Max(diff, Math.Abs(scores[i][j] - row[j]));
        }
        _out.WriteLine($"tagger: max abs diff {diff:G3} over every real step");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
    }
}
