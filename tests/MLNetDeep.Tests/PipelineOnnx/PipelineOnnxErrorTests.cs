using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.PipelineOnnx.PipelineOnnxCheck;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>The input of the test's CustomMapping: the raw 0-255 pixels.</summary>
public sealed class RawPixels
{
    [VectorType(784)] public float[] Raw { get; set; } = Array.Empty<float>();
}

/// <summary>The output of the test's CustomMapping: pixels in [0, 1].</summary>
public sealed class ScaledPixels
{
    [VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
}

/// <summary>
/// What the pipeline export refuses, and how: steps ONNX can't express (image loading and resizing, FeaturizeText) are a
/// clear error naming the step and the column with the InputColumns that start the graph after them; bad options name
/// the option and the value; ML.NET's opset-12 operators keep their meaning under the newer opset; ML.NET's own
/// ConvertToOnnx can be made to refuse MLNetDeep models.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PipelineOnnxErrorTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-pipeline-errors-" + Guid.NewGuid().ToString("N"));

    public PipelineOnnxErrorTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_step_OnnxConverter_refuses_is_a_clear_error_and_InputColumns_starts_the_graph_after_it()
    {
        // A CustomMapping stands for the image steps (LoadImages, ResizeImages, ExtractPixels), which ONNX can't express
        // either; this test project can't run ML.NET 5.0.1's image transforms (ScottPlot's SkiaSharp 3 lacks a method they
        // call), so the real image steps are tested in MLNetDeep.ImageTests (ImagePipelineOnnxTests).
        var ml = new MLContext(seed: 1);
        var labels = ml.Data.LoadFromEnumerable(TestData.TrainImages(256).Select(i => new FashionMnistImage { Features = i.Features.Select(p => p * 255f).ToArray(), Label = i.Label }));
        var options = Tiny.Options();
        options.FeatureColumnName = "Pixels";
        var model = ml.Transforms.CopyColumns("Raw", "Features")
            .Append(ml.Transforms.CustomMapping<RawPixels, ScaledPixels>((i, o) => o.Pixels = i.Raw.Select(p => p / 255f).ToArray(), contractName: null))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.Cnn(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(labels);

        var e = Assert.Throws<PipelineOnnxException>(() => ml.Model.ConvertPipelineToOnnx(model, labels));
        _out.WriteLine(e.Message);
        Assert.Equal(1, e.StepIndex);
        Assert.Equal("Pixels", e.Column);
        Assert.Contains("step 1 (CustomMappingTransformer, writing 'Pixels')", e.Message);
        Assert.Contains("PipelineOnnxOptions.InputColumns = new[] { \"Pixels\" }", e.Message);

        var exported = ml.Model.ConvertPipelineToOnnx(model, labels, new PipelineOnnxOptions { InputColumns = new[] { "Pixels" } });
        Assert.Equal("Pixels", Assert.Single(exported.Inputs).Name);
        Assert.Contains(exported.Steps, s => s.StartsWith("1: CustomMappingTransformer", StringComparison.Ordinal) && s.EndsWith("(left out: before the graph's start)", StringComparison.Ordinal));
        // The graph's input is the pipeline's own pixel column: ONNX Runtime on it gives the pipeline's outputs.
        var scored = model.Transform(labels);
        var ort = RunOrt(exported.ToArray(), exported, scored);
        AssertSame(Column(scored, "PredictedLabel"), ort["PredictedLabel"], "PredictedLabel");
        _out.WriteLine($"from the pixels: max |diff| {AssertSame(Column(scored, "Score"), ort["Score"], "Score"):G3}");
    }

    [Fact]
    public void FeaturizeText_is_a_clear_error_naming_the_step_and_column()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(PipelineData.Sentences(30, part: 0));
        var model = ml.Transforms.Text.FeaturizeText("Features", "Text").Fit(data);
        var e = Assert.Throws<PipelineOnnxException>(() => ml.Model.ConvertPipelineToOnnx(model, data));
        _out.WriteLine(e.Message);
        Assert.Equal(0, e.StepIndex);
        Assert.Equal("Features", e.Column);
        Assert.Contains("writing 'Features'", e.Message);
    }

    [Fact]
    public void Bad_options_name_the_option_and_the_value()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.TrainView(ml, 128);
        var model = Tiny.Multiclass(ml, Tiny.Options()).Fit(train);

        var opset = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Model.ConvertPipelineToOnnx(model, train, new PipelineOnnxOptions { Opset = 12 }));
        Assert.Contains("Received: Opset=12", opset.Message);
        var output = Assert.Throws<PipelineOnnxException>(() => ml.Model.ConvertPipelineToOnnx(model, train, new PipelineOnnxOptions { OutputColumns = new[] { "Scores" } }));
        Assert.Contains("'Scores'", output.Message);
        Assert.Contains("The pipeline's output columns: Features, Label, Score, PredictedLabel", output.Message);
        var input = Assert.Throws<PipelineOnnxException>(() => ml.Model.ConvertPipelineToOnnx(model, train, new PipelineOnnxOptions { InputColumns = new[] { "Pixels" } }));
        Assert.Contains("InputColumns names column 'Pixels'", input.Message);
        var empty = Assert.Throws<ArgumentException>(() => ml.Model.ConvertPipelineToOnnx(model, train, new PipelineOnnxOptions { OutputColumns = Array.Empty<string>() }));
        Assert.Contains("OutputColumns", empty.Message);

        // Starting at the label key means the graph can't compute what the label mapping wrote before the start... but
        // nothing after needs it: the outputs don't depend on it, so this works and has only Features as input.
        var fromKeys = ml.Model.ConvertPipelineToOnnx(model, train, new PipelineOnnxOptions { InputColumns = new[] { "Label" } });
        Assert.Equal("Features", Assert.Single(fromKeys.Inputs).Name);
    }

    [Fact]
    public void Opset_12_operators_mean_the_same_after_the_upgrade_in_ONNX_Runtime()
    {
        // A graph as ML.NET's converter writes it (opset 12): Unsqueeze/Squeeze and ReduceSum with axes attributes, Split
        // with sizes, ReduceMean (axes input only from 18) and a Softmax over the flattened trailing axes of a 3-D tensor.
        var g = new GraphProto();
        g.Inputs.Add(new ValueInfoProto { Name = "x", ElemType = OnnxDataType.Float, Shape = new List<object> { 2L, 3L, 4L } });
        NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = op + outputs[0] };
            n.Inputs.AddRange(inputs); n.Outputs.AddRange(outputs); n.Attributes.AddRange(attrs);
            g.Nodes.Add(n);
            return n;
        }
        Node("Unsqueeze", new[] { "x" }, new[] { "u" }, OnnxGraphBuilder.Ints("axes", 0));
        Node("Squeeze", new[] { "u" }, new[] { "s" }, OnnxGraphBuilder.Ints("axes", 0));
        Node("ReduceSum", new[] { "s" }, new[] { "sum" }, OnnxGraphBuilder.Ints("axes", 2), OnnxGraphBuilder.Int("keepdims", 0));
        Node("ReduceMean", new[] { "s" }, new[] { "mean" }, OnnxGraphBuilder.Ints("axes", 1), OnnxGraphBuilder.Int("keepdims", 1));
        Node("Split", new[] { "s" }, new[] { "a", "b" }, OnnxGraphBuilder.Int("axis", 2), OnnxGraphBuilder.Ints("split", 1, 3));
        Node("Softmax", new[] { "s" }, new[] { "soft" }, OnnxGraphBuilder.Int("axis", 1));
        foreach (var o in new[] { "sum", "mean", "a", "b", "soft" }) g.Outputs.Add(new ValueInfoProto { Name = o, ElemType = OnnxDataType.Float, HasShape = false });
        byte[] Model(int opset) => ProtoWriter.Serialize(new ModelProto { IrVersion = opset <= 12 ? 7 : 8, Graph = g, OpsetImport = { new OperatorSetIdProto("", opset) } });

        var x = Enumerable.Range(0, 24).Select(i => MathF.Sin(i * 0.7f) * 3).ToArray();
        float[][] Run(byte[] model)
        {
            using var session = new InferenceSession(model);
            using var r = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { 2, 3, 4 })) });
            return r.Select(v => v.AsTensor<float>().ToArray()).ToArray();
        }
        var old = Run(Model(12));
        foreach (int opset in new[] { 17, 18, 20 })
        {
            var upgraded = GraphProto.Read(new ProtoReader(ProtoWriter.Serialize(g)));
            OpsetUpgrade.Apply(upgraded, 12, opset);
            Assert.DoesNotContain(upgraded.Nodes, n => n.OpType is "Squeeze" or "Unsqueeze" or "ReduceSum" && n.Attributes.Any(a => a.Name == "axes"));
            var bytes = ProtoWriter.Serialize(new ModelProto { IrVersion = OnnxExportOptions.IrVersionFor(opset), Graph = upgraded, OpsetImport = { new OperatorSetIdProto("", opset) } });
            var now = Run(bytes);
            for (int k = 0; k < old.Length; k++) Assert.Equal(old[k], now[k]);
            // unchanged, the softmax would normalise over one axis instead of the flattened two: the check can fail
            Assert.NotEqual(old[4], SoftmaxOverOneAxis(x));
        }
    }

    private static float[] SoftmaxOverOneAxis(float[] x)
    {
        var y = new float[24];
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 4; k++)
            {
                float sum = 0;
                for (int j = 0; j < 3; j++) sum += MathF.Exp(x[b * 12 + j * 4 + k]);
                for (int j = 0; j < 3; j++) y[b * 12 + j * 4 + k] = MathF.Exp(x[b * 12 + j * 4 + k]) / sum;
            }
        return y;
    }

    [Fact]
    public void MLNETs_ConvertToOnnx_refuses_a_pipeline_with_an_MLNetDeep_model_and_Transform_elsewhere_is_unaffected()
    {
        // Fails loudly if ML.NET renames the converter's entry class (MLNetInternals/ConvertToOnnxGuard.cs looks for it).
        var ml = new MLContext(seed: 1);
        var data = TestData.TrainView(ml, 200);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Cnn(Tiny.Options())).Fit(data);
        Assert.Equal(200, model.Transform(data).GetColumn<float[]>("Score").Count()); // outside the converter: no effect

        using var stream = new MemoryStream();
        var e = Assert.Throws<NotSupportedException>(() => ml.Model.ConvertToOnnx(model, data, stream));
        Assert.Contains("ConvertPipelineToOnnx", e.Message);
        Assert.Equal(0, stream.Length);
        Assert.Equal(200, model.Transform(data).GetColumn<float[]>("Score").Count()); // and after it
    }
}
