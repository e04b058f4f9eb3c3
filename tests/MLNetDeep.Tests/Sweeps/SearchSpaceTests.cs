using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Sweeps;
using Xunit;

namespace MLNetDeep.Tests.Sweeps;

[Trait("Category", "Unit")]
public class SearchSpaceTests
{
    private sealed class Inner
    {
        [Range(0.0, 0.5)] public double Dropout { get; set; } = 0.1;
        [Choice(64, 128)] public int Width { get; set; } = 64;
    }

    private enum Kind { A, B, C }

    private sealed class Params
    {
        [Range(1e-5, 1e-1, logBase: true)] public double LearningRate { get; set; } = 1e-3;
        [Range(1, 4)] public int Depth { get; set; } = 2;
        [Range(8, 512, logBase: true)] public int Units { get; set; } = 32;
        [Choice("adam", "sgd")] public string Optimizer { get; set; } = "adam";
        [Choice(Kind.A, Kind.C)] public Kind Kind { get; set; }
        public Inner Head { get; set; } = new();
        public double NotSwept { get; set; } = 7;
        public double InitOnly { get; init; }
    }

    [Fact]
    public void Attributes_declare_every_dimension_including_nested()
    {
        var space = new SearchSpace<Params>();
        Assert.Equal(new[] { "LearningRate", "Depth", "Units", "Optimizer", "Kind", "Head.Dropout", "Head.Width" }, space.Names);
        Assert.IsType<FloatRange>(space["LearningRate"]);
        Assert.True(((FloatRange)space["LearningRate"]).LogScale);
        Assert.IsType<IntRange>(space["Depth"]);
        Assert.IsType<ChoiceDimension>(space["Head.Width"]);
    }

    [Fact]
    public void Random_samples_respect_ranges_types_and_log_scale()
    {
        var space = new SearchSpace<Params>();
        var rng = new Random(1);
        var lrs = new List<double>();
        var units = new List<int>();
        for (int i = 0; i < 4000; i++)
        {
            var p = space.Sample(rng);
            double lr = (double)p["LearningRate"];
            Assert.InRange(lr, 1e-5, 1e-1);
            lrs.Add(lr);
            Assert.InRange((int)p["Depth"], 1, 4);
            units.Add((int)p["Units"]);
            Assert.Contains((string)p["Optimizer"], new[] { "adam", "sgd" });
            Assert.InRange((double)p["Head.Dropout"], 0, 0.5);
        }
        // log-uniform: each decade gets about a quarter of the draws (uniform would put ~90% in the top decade)
        for (int decade = -5; decade < -1; decade++)
        {
            double share = lrs.Count(x => x >= Math.Pow(10, decade) && x < Math.Pow(10, decade + 1)) / (double)lrs.Count;
            Assert.InRange(share, 0.20, 0.30);
        }
        Assert.InRange(units.Count(u => u < 64) / (double)units.Count, 0.45, 0.56); // log scale: 8..64 is 3 of 6 octaves
        // every integer of a linear int range is drawn about equally often
        var depths = Enumerable.Range(0, 4000).Select(i => (int)space.Sample(new Random(i))["Depth"]).ToList();
        foreach (int d in new[] { 1, 2, 3, 4 }) Assert.InRange(depths.Count(x => x == d) / 4000.0, 0.2, 0.3);
    }

    [Fact]
    public void Bind_builds_a_fresh_object_with_nested_and_enum_values()
    {
        var space = new SearchSpace<Params>();
        var p = new TrialParameters(new Dictionary<string, object>
        {
            ["LearningRate"] = 0.01, ["Depth"] = 3, ["Units"] = 64, ["Optimizer"] = "sgd", ["Kind"] = Kind.C, ["Head.Dropout"] = 0.3, ["Head.Width"] = 128,
        });
        var a = space.Bind(p);
        var b = space.Bind(p);
        Assert.NotSame(a, b);
        Assert.NotSame(a.Head, b.Head);
        Assert.Equal(0.01, a.LearningRate);
        Assert.Equal(Kind.C, a.Kind);
        Assert.Equal(0.3, a.Head.Dropout);
        Assert.Equal(128, a.Head.Width);
        Assert.Equal(7, a.NotSwept);

        // JSON round trip (what the storages keep) gives back the same typed values
        var back = TrialParameters.FromJson(p.ToJson(), space);
        Assert.Equal(p.ToJson(), back.ToJson());
        Assert.Equal(Kind.C, space.Bind(back).Kind);
        Assert.Equal(3, space.Bind(back).Depth);
    }

    [Fact]
    public void Fluent_overrides_replace_ranges_and_fix_parameters()
    {
        var space = new SearchSpace<Params>()
            .Range(p => p.LearningRate, 0.1, 0.2)
            .Range(p => p.Head.Dropout, 0.0, 0.1)
            .Choice(p => p.Optimizer, "rmsprop")
            .Range(p => p.InitOnly, 1.0, 2.0)
            .Fix(p => p.Depth);
        Assert.DoesNotContain("Depth", space.Names);
        Assert.Equal("LearningRate", space.Names[0]); // an override keeps the position
        var rng = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            var bound = space.Bind(space.Sample(rng));
            Assert.InRange(bound.LearningRate, 0.1, 0.2);
            Assert.InRange(bound.Head.Dropout, 0, 0.1);
            Assert.InRange(bound.InitOnly, 1, 2);   // init-only setters are set too
            Assert.Equal("rmsprop", bound.Optimizer);
            Assert.Equal(2, bound.Depth);           // fixed: the class default
        }
    }

    [Fact]
    public void Bad_ranges_throw_naming_the_values_and_the_fix()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SearchDimension.Float(0, 1, logScale: true));
        Assert.Contains("Min > 0", e.Message);
        Assert.Contains("Received: Min=0", e.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => SearchDimension.Int(5, 2));
        Assert.Contains("Min=5, Max=2", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => SearchDimension.Choice(new Adam()));
        Assert.Contains("Adam", e3.Message);
        var e4 = Assert.Throws<KeyNotFoundException>(() => new SearchSpace<Params>().Remove("Nope"));
        Assert.Contains("LearningRate", e4.Message);
    }

    [Fact]
    public void Cnn_default_space_builds_new_options_and_never_changes_the_template()
    {
        var template = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = 3, Optimizer = new Adam { LearningRate = 0.5 } };
        var templateOptimizer = template.Optimizer;
        var templateHead = template.Head;
        var templateCallbacks = template.Callbacks;
        var space = CnnSweep.DefaultSpace();
        Assert.Contains("Head.Dropout", space.Names);
        Assert.Contains("LearningRate", space.Names);
        var rng = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            var p = space.Bind(space.Sample(rng));
            var o = CnnSweep.ToOptions(p, template);
            Assert.NotSame(template, o);
            Assert.NotSame(template.Head, o.Head);
            Assert.NotSame(template.Callbacks, o.Callbacks);
            Assert.Equal(p.LearningRate, o.Optimizer.LearningRate);
            Assert.Equal(p.BatchSize, o.BatchSize);
            Assert.Equal(p.ConvBlocks, o.Layers!.Count);
            Assert.Equal(p.Head.Dropout, o.Head.Dropout);
            Assert.Equal(3, o.Epochs);
            Assert.Equal(new ImageShape(1, 28, 28), o.ImageShape);
            if (p.Optimizer == "nesterov") Assert.True(((Sgd)o.Optimizer).Nesterov);
        }
        Assert.Same(templateOptimizer, template.Optimizer);
        Assert.Equal(0.5, template.Optimizer.LearningRate);
        Assert.Same(templateHead, template.Head);
        Assert.Same(templateCallbacks, template.Callbacks);
        Assert.Empty(template.Callbacks);
        Assert.Null(template.Layers);
        Assert.Equal(64, template.BatchSize);

        // the parameter class's defaults describe the trainer's defaults
        var d = CnnSweep.ToOptions(new CnnSearchParameters(), new CnnOptions { ImageShape = new ImageShape(1, 28, 28) });
        var reference = new CnnOptions();
        Assert.Equal(reference.BatchSize, d.BatchSize);
        Assert.Equal(reference.Optimizer.LearningRate, d.Optimizer.LearningRate);
        Assert.Equal(reference.Head.Dropout, d.Head.Dropout);
        Assert.Equal(reference.Head.InputDropout, d.Head.InputDropout);
        Assert.Equal(CnnOptions.DefaultLayers().Select(l => l.Filters), d.Layers!.Select(l => l.Filters));
    }
}
