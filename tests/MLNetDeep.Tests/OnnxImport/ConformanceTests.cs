using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using MLNetDeep.OnnxImport.Graph;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// ONNX's own backend conformance data (Debian's libonnx-testdata, /usr/share/libonnx-testdata/data/node): every node
/// test whose operators the importer supports is imported and run on the test's inputs; the outputs must match the
/// test's expected outputs (float: |a − e| ≤ 1e-5 + 1e-3·|e|, ONNX's backend-test tolerance; integers and booleans
/// exactly). The tests listed in <see cref="Gaps"/> use a feature the importer rejects: they must fail at import with
/// an <see cref="OnnxImportException"/> that says so.
/// </summary>
public sealed class ConformanceTests
{
    private readonly ITestOutputHelper _out;
    public ConformanceTests(ITestOutputHelper output) => _out = output;

    /// <summary>Tests of supported operators that use a feature the importer rejects at import (the reason is the documented gap).</summary>
    internal static readonly Dictionary<string, string> Gaps = new()
    {
        ["node/test_batchnorm_epsilon_training_mode"] = "training_mode = 1 and the running-statistics outputs",
        ["node/test_batchnorm_example_training_mode"] = "training_mode = 1 and the running-statistics outputs",
        ["node/test_maxpool_with_argmax_2d_precomputed_pads"] = "the Indices output",
        ["node/test_maxpool_with_argmax_2d_precomputed_strides"] = "the Indices output",
    };

    /// <summary>
    /// Float-to-bfloat16 casts: ONNX 1.12's expected outputs truncate to bfloat16 (and store bfloat16 as uint16), LibTorch
    /// rounds to nearest: one bfloat16 step (2^-7 relative) apart.
    /// </summary>
    private static double RelativeTolerance(string test) => test.Contains("BFLOAT16") ? 1e-2 : 1e-3;

    /// <summary>Random dropout (training_mode = true): ONNX's expected values come from numpy's generator, so these check the form instead.</summary>
    private static bool IsRandomDropout(string test) => test.StartsWith("node/test_training_dropout", StringComparison.Ordinal) && !test.Contains("zero_ratio");

    /// <summary>Node tests whose every node is a supported operator of the default domain.</summary>
    public static IEnumerable<object[]> SupportedTests()
    {
        var supported = OnnxNetwork.SupportedOperators.ToHashSet();
        OnnxFiles.NodeTestFolders();
        var root = Path.GetDirectoryName(OnnxFiles.NodeTests)!;
        foreach (var kind in new[] { "node", "pytorch-converted", "pytorch-operator", "simple" })
            foreach (var dir in Directory.GetDirectories(Path.Combine(root, kind)).OrderBy(d => d, StringComparer.Ordinal))
            {
                var path = Path.Combine(dir, "model.onnx");
                if (!File.Exists(path)) continue;
                var model = ModelProto.Parse(File.ReadAllBytes(path));
                if (model.Graph.Nodes.All(n => n.Domain is "" or "ai.onnx" && supported.Contains(n.OpType)))
                    yield return new object[] { $"{kind}/{Path.GetFileName(dir)}" };
            }
    }

    [Theory]
    [MemberData(nameof(SupportedTests))]
    public void NodeTest_MatchesTheExpectedOutputs(string test)
    {
        var dir = Path.Combine(Path.GetDirectoryName(OnnxFiles.NodeTests)!, test);
        var model = ModelProto.Parse(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        var options = new OnnxImportOptions { OutputNames = model.Graph.Outputs.Select(o => o.Name).ToList() };
        var io = model.Graph.Inputs.Concat(model.Graph.Outputs).ToList();
        if (io.Any(v => v.OtherType is not null || v.ElemType == OnnxDataType.String))
        {
            var e = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(Path.Combine(dir, "model.onnx"), options));
            Assert.Matches("not a tensor|holds strings|String", e.Message);
            _out.WriteLine($"{test}: non-tensor or string values, rejected: {e.Message}");
            return;
        }
        if (Gaps.TryGetValue(test, out var gap))
        {
            var e = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(Path.Combine(dir, "model.onnx"), options));
            _out.WriteLine($"{test}: rejected as documented ({gap}): {e.Message}");
            return;
        }
        using var network = OnnxNetwork.Load(Path.Combine(dir, "model.onnx"), options);
        bool random = IsRandomDropout(test);
        if (random) network.train(); else network.eval();
        double rtol = RelativeTolerance(test);
        foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            var byName = new Dictionary<string, Tensor>();
            var graphInputs = model.Graph.Inputs.Where(i => model.Graph.Initializers.All(t => t.Name != i.Name)).ToList();
            for (int i = 0; File.Exists(Path.Combine(set, $"input_{i}.pb")); i++)
                byName[graphInputs[i].Name] = Read(Path.Combine(set, $"input_{i}.pb"), graphInputs[i].ElemType);
            var inputs = network.InputNames.Select(n => byName[n]).ToArray();
            Tensor[] actual;
            using (no_grad()) actual = network.ForwardAll(inputs);
            if (random)
            {
                CheckDropoutForm(test, inputs[0], actual);
                continue;
            }
            for (int o = 0; o < actual.Length; o++)
            {
                var expected = Read(Path.Combine(set, $"output_{o}.pb"), model.Graph.Outputs[o].ElemType);
                string label = $"{test}/{Path.GetFileName(set)} output {o} ('{network.OutputNames[o]}')";
                Assert.True(expected.shape.SequenceEqual(actual[o].shape),
                    $"{label}: shape [{string.Join(", ", actual[o].shape)}], expected [{string.Join(", ", expected.shape)}]");
                if (is_floating_point(expected))
                {
                    var e = expected.to(ScalarType.Float64);
                    var a = actual[o].to(ScalarType.Float64);
                    var bad = ((a - e).abs() > e.abs() * rtol + 1e-5) & ~(a.isnan() & e.isnan()) & ~(a.isinf() & e.isinf() & (a == e));
                    double worst = e.numel() == 0 ? 0 : (a - e).abs().nan_to_num(0, 0, 0).max().item<double>();
                    Assert.False(bad.any().item<bool>(), $"{label}: {bad.sum().item<long>()} of {e.numel()} values off (max abs diff {worst:G3})");
                }
                else
                {
                    Assert.True(expected.to(ScalarType.Int64).eq(actual[o].to(ScalarType.Int64)).all().item<bool>(), $"{label}: values differ");
                }
            }
        }
    }

    /// <summary>A .pb tensor; bfloat16 values the test data stores as uint16 are read as the bfloat16 the graph declares.</summary>
    private static Tensor Read(string pb, OnnxDataType declared)
    {
        var proto = TensorProto.Read(new ProtoReader(File.ReadAllBytes(pb)));
        if (declared == OnnxDataType.BFloat16 && proto.DataType == OnnxDataType.UInt16) proto.DataType = OnnxDataType.BFloat16;
        return OnnxTensors.ToTensor(proto, Path.GetFileName(pb));
    }

    /// <summary>Train-mode dropout: every output is 0 or x / (1 − ratio), the mask (when asked for) marks the kept ones, and some are kept and some dropped.</summary>
    private static void CheckDropoutForm(string test, Tensor x, Tensor[] actual)
    {
        var y = actual[0];
        var kept = y != 0;
        var scale = (y.masked_select(kept) / x.masked_select(kept)).to(ScalarType.Float64);
        Assert.True(kept.any().item<bool>() && (~kept).any().item<bool>(), $"{test}: expected some values kept and some dropped");
        double s0 = scale[0].item<double>();
        Assert.True((scale - s0).abs().max().item<double>() < 1e-5 * s0, $"{test}: kept values are not all scaled by the same 1/(1 − ratio)");
        if (actual.Length > 1) Assert.True(actual[1].eq(kept).all().item<bool>(), $"{test}: the mask disagrees with the kept values");
    }

    /// <summary>Every test of a supported operator is either run or a documented gap; the counts are printed for the docs.</summary>
    [Fact]
    public void SupportedOperators_AreCoveredByTheConformanceData()
    {
        var tests = SupportedTests().Select(t => (string)t[0]).ToList();
        _out.WriteLine($"{tests.Count} node tests use only supported operators; {Gaps.Count} of them are documented gaps.");
        Assert.All(Gaps.Keys, g => Assert.Contains(g, tests));
        var covered = tests.Select(t => ModelProto.Parse(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(OnnxFiles.NodeTests)!, t, "model.onnx"))))
            .SelectMany(m => m.Graph.Nodes.Select(n => n.OpType)).ToHashSet();
        var untested = OnnxNetwork.SupportedOperators.Where(op => !covered.Contains(op)).ToList();
        _out.WriteLine($"supported operators without a node test here: {string.Join(", ", untested)}");
        Assert.True(tests.Count >= 200, $"only {tests.Count} tests");

        // docs/pretrained.md lists every supported operator in its table and the count of models run here
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MLNetDeep.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var docs = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "pretrained.md"));
        var table = docs[docs.IndexOf("## Supported operators", StringComparison.Ordinal)..docs.IndexOf("## Conformance", StringComparison.Ordinal)];
        Assert.All(OnnxNetwork.SupportedOperators, op => Assert.Matches($@"[|,(\s/]{op}[\s,(|/]", table));
        Assert.Contains($"{tests.Count} models use only supported operators", docs);
        Assert.Contains($"**{tests.Count - 10} pass**", docs);
    }
}
