using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Checkpoints;
using MLNetDeep.Datasets;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Initializers;
using MLNetDeep.Models.Custom;
using MLNetDeep.Onnx;
using MLNetDeep.Optimizers;
using MLNetDeep.Schedules;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Onnx;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Custom;

/// <summary>
/// A user-written TorchSharp module trained through the catalog on real Fashion-MNIST: accuracy, Evaluate, CrossValidate,
/// PredictionEngine = Transform, early stopping and a schedule, checkpoints resumed bit-identically, warm start,
/// save/load with identical scores, typed module options, seeding and the Initializer option; binary and regression.
/// </summary>
public sealed class CustomModuleTrainingTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Images = new(() => ControlKit.Data(Ml, 2000, 1000));
    private readonly ITestOutputHelper _out;

    public CustomModuleTrainingTests(ITestOutputHelper output)
    {
        _out = output;
        TestModules.EnsureRegistered();
    }

    /// <summary>The user-written SmallCnn class, 2 epochs on 2,000 images with validation, early stopping and a cosine schedule; trained once for the tests below.</summary>
    private static readonly Lazy<DeepTransformer> UserCnn = new(() =>
    {
        var options = new CustomModuleOptions
        {
            ModuleName = TestModules.UserCnn,
            InputShape = new[] { 1, 28, 28 },
            Epochs = 3,
            BatchSize = 64,
            Seed = 7,
            Optimizer = new Adam { LearningRate = 3e-3 },
            LearningRateSchedule = new CosineDecay { DecaySteps = 90 }, // 29 batches an epoch
            ValidationFraction = 0.1,
            EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationLoss, Patience = 2 },
        };
        return Ml.MulticlassClassification.Trainers.CustomModule(options).Fit(Images.Value.Train);
    });

    [Fact]
    public void UserWrittenModule_TrainsToAccuracy_WithScheduleAndEarlyStopping()
    {
        var model = UserCnn.Value;
        var metrics = Ml.MulticlassClassification.Evaluate(model.Transform(Images.Value.Test));
        var h = model.History;
        _out.WriteLine($"accuracy {metrics.MicroAccuracy:F4} log-loss {metrics.LogLoss:F4}; {h.Epochs.Count} epochs ({h.StopReason}); " +
                       $"lr {string.Join(" → ", h.Epochs.Select(e => e.LearningRate.ToString("G3")))}; {h.TotalDuration.TotalSeconds:F1} s");
        Assert.True(metrics.MicroAccuracy >= 0.72, $"test accuracy {metrics.MicroAccuracy:F4} < 0.72 after {h.Epochs.Count} epochs on 2,000 images");
        Assert.IsType<SmallCnn>(((CustomNetwork)model.Network).Module);
        Assert.All(h.Epochs, e => Assert.NotNull(e.ValidationLoss));
        Assert.True(h.Epochs[^1].LearningRate < h.Epochs[0].LearningRate, "the cosine schedule did not lower the learning rate");
        Assert.NotNull(h.BestEpoch); // early stopping tracked the best epoch (and restores its weights)
    }

    [Fact]
    public void PredictionEngine_ScoresAsTransform()
    {
        var model = UserCnn.Value;
        var rows = TestData.TestImages(40);
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromEnumerable(rows);
        var scored = model.Transform(view);
        var batch = scored.GetColumn<float[]>("Score").ToList();
        var labels = scored.GetColumn<uint>("PredictedLabel").ToList();
        // not disposed: a PredictionEngine owns its transformer and would dispose the shared model
        var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(model, ignoreMissingColumns: true);
        for (int i = 0; i < rows.Count; i++)
        {
            var p = engine.Predict(rows[i]);
            Assert.Equal(labels[i], p.PredictedLabel);
            for (int k = 0; k < 10; k++) Assert.Equal(batch[i][k], p.Score[k], 1e-6); // one row vs a batch of 40: LibTorch may sum in another order
        }
    }

    [Fact]
    public void SaveAndLoad_ScoresIdentically_AndRebuildsTheUserClass()
    {
        var model = UserCnn.Value;
        var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-custom-{Guid.NewGuid():N}.mlnd");
        try
        {
            model.Save(path);
            using var loaded = DeepTransformer.Load(path);
            Assert.IsType<SmallCnn>(((CustomNetwork)loaded.Network).Module);
            var test = Images.Value.Test;
            var a = model.Transform(test).GetColumn<float[]>("Score").ToList();
            var b = loaded.Transform(test).GetColumn<float[]>("Score").ToList();
            for (int i = 0; i < a.Count; i++) Assert.Equal(a[i], b[i]);
            var arch = Assert.IsType<CustomArchitecture>(loaded.Description.Architecture);
            Assert.Equal(TestModules.UserCnn, arch.ModuleName);
            Assert.Equal(new[] { 1, 28, 28 }, arch.InputShape);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OnnxExport_OfAUserClass_IsRefusedNamingItsType_ButOwnFormatWorks()
    {
        var e = Assert.Throws<OnnxExportException>(() => UserCnn.Value.ExportToOnnx(new MemoryStream()));
        _out.WriteLine(e.Message);
        Assert.Contains("module 'module' (SmallCnn)", e.Message);
        Assert.Contains("DeepTransformer.Save", e.Message);
    }

    [Fact]
    public void CrossValidate_TwoFolds_OfASequentialModule()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(TestData.TrainImages(1200));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.CustomModule(TestModules.SequentialCnn, new[] { 1, 28, 28 }, epochs: 2, batchSize: 32, learningRate: 3e-3));
        var folds = ml.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: 2);
        foreach (var f in folds) _out.WriteLine($"fold {f.Fold}: accuracy {f.Metrics.MicroAccuracy:F4}");
        Assert.Equal(2, folds.Count);
        Assert.All(folds, f => Assert.True(f.Metrics.MicroAccuracy >= 0.6, $"fold {f.Fold}: accuracy {f.Metrics.MicroAccuracy:F4} < 0.6"));
    }

    private static CustomModuleOptions Mlp(int epochs, int seed = 3, MlpOptions? module = null) => new()
    {
        ModuleName = TestModules.Mlp,
        InputShape = new[] { 784 },
        ModuleOptions = module ?? new MlpOptions { Hidden = 32, Dropout = 0.3 },
        Epochs = epochs,
        BatchSize = 64,
        Seed = seed,
    };

    private static DeepTransformer Fit(CustomModuleOptions options, IDataView train, IDataView? validation = null) =>
        new CustomModuleTrainer(options, PredictionKind.MulticlassClassification).Fit(train, validation);

    private static IDataView Small => ControlKit.Data(Ml, 600, 200).Train;

    [Fact]
    public void Checkpoints_ResumeAfterCancellation_EqualsAnUninterruptedRun()
    {
        var train = Small;
        using var straight = Fit(Mlp(4), train);
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-custom-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var cts = new CancellationTokenSource();
            var first = Mlp(4);
            first.Checkpoints = new CheckpointOptions { Directory = dir };
            first.CancellationToken = cts.Token;
            first.Callbacks.Add(new ControlKit.Hook { BatchEnd = (c, b, _) => { if (c.Epoch == 3 && b == 3) cts.Cancel(); } });
            Assert.ThrowsAny<OperationCanceledException>(() => Fit(first, train));

            var second = Mlp(4);
            second.Checkpoints = new CheckpointOptions { Directory = dir };
            using var resumed = Fit(second, train);
            Assert.Equal(straight.History.Epochs.Select(e => e.TrainLoss), resumed.History.Epochs.Select(e => e.TrainLoss));
            foreach (var ((name, a), (_, b)) in ControlKit.Weights(straight.Network).Zip(ControlKit.Weights(resumed.Network)))
                Assert.True(ControlKit.Flat(a).SequenceEqual(ControlKit.Flat(b)), $"{name} differs after resuming");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void WarmStart_StartsFromTheSavedWeights()
    {
        var train = Small;
        using var source = Fit(Mlp(2), train);
        var options = Mlp(1, seed: 11);
        options.WarmStartFrom = source;
        List<float[]>? atStart = null;
        options.Callbacks.Add(new ControlKit.Hook { EpochBegin = (c, e) => atStart ??= ControlKit.Weights(c.Network).Select(w => ControlKit.Flat(w.W)).ToList() });
        using var continued = Fit(options, train);
        var expected = ControlKit.Weights(source.Network).Select(w => ControlKit.Flat(w.W)).ToList();
        Assert.Equal(expected.Count, atStart!.Count);
        for (int i = 0; i < expected.Count; i++) Assert.True(expected[i].SequenceEqual(atStart[i]), $"weight {i} did not start from the saved model");
        _out.WriteLine($"first epoch loss: fresh {source.History.Epochs[0].TrainLoss:F4}, warm {continued.History.Epochs[0].TrainLoss:F4}");
        Assert.True(continued.History.Epochs[0].TrainLoss < source.History.Epochs[0].TrainLoss);
    }

    [Fact]
    public void SameSeed_SameWeights_OtherSeed_OtherWeights()
    {
        var train = Small;
        using var a = Fit(Mlp(1, seed: 5), train);
        using var b = Fit(Mlp(1, seed: 5), train);
        using var c = Fit(Mlp(1, seed: 6), train);
        var wa = ControlKit.Weights(a.Network).SelectMany(w => ControlKit.Flat(w.W)).ToArray();
        Assert.Equal(wa, ControlKit.Weights(b.Network).SelectMany(w => ControlKit.Flat(w.W)).ToArray());
        Assert.NotEqual(wa, ControlKit.Weights(c.Network).SelectMany(w => ControlKit.Flat(w.W)).ToArray());
    }

    [Fact]
    public void Initializer_WhenSet_InitialisesLinearAndConvLayers_OtherwiseTheModuleDoes()
    {
        static (float[] Biases, List<(long FanIn, long FanOut, float[] W)> Weights) Built(Initializer? init)
        {
            var arch = new CustomArchitecture { ModuleName = TestModules.SequentialCnn, InputShape = new[] { 1, 28, 28 }, Kind = PredictionKind.MulticlassClassification };
            using var net = arch.Build(10, init);
            var biases = net.named_parameters().Where(p => p.name.EndsWith("bias") && !p.name.Contains("norm")).SelectMany(p => ControlKit.Flat(p.parameter)).ToArray();
            var weights = ControlKit.Weights(net).Select(w => (Fans(w.W).In, Fans(w.W).Out, ControlKit.Flat(w.W))).ToList();
            return (biases, weights);
        }
        static (long In, long Out) Fans(TorchSharp.torch.Tensor w)
        {
            long receptive = w.shape.Skip(2).Aggregate(1L, (a, b) => a * b);
            return (w.shape[1] * receptive, w.shape[0] * receptive);
        }
        var own = Built(null);
        Assert.Contains(own.Biases, b => b != 0); // TorchSharp's own init draws biases
        var glorot = Built(new GlorotUniform());
        Assert.All(glorot.Biases, b => Assert.Equal(0f, b));
        foreach (var (fanIn, fanOut, w) in glorot.Weights)
        {
            double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
            Assert.All(w, v => Assert.InRange(Math.Abs(v), 0, bound));
            double std = Math.Sqrt(w.Select(v => (double)v * v).Average());
            Assert.InRange(std, 0.9 * bound / Math.Sqrt(3), 1.1 * bound / Math.Sqrt(3)); // U(-a, a) has std a/√3
        }
    }

    [Fact]
    public void Regularization_ReachesTheModulesWeights_MaxNormBoundsEveryUnit()
    {
        var freeOptions = Mlp(1);
        freeOptions.Optimizer = new Sgd { LearningRate = 0.5 }; // large steps, so unconstrained rows grow past the bound
        var options = Mlp(1);
        options.Optimizer = new Sgd { LearningRate = 0.5 };
        options.Regularization = new MLNetDeep.Regularization.RegularizationOptions { MaxNorm = 0.3 };
        using var bounded = Fit(options, Small);
        using var free = Fit(freeOptions, Small);
        static double[] RowNorms(DeepTransformer m, string name) =>
            ControlKit.Weights(m.Network).Single(w => w.Name == name).W.detach().norm(1).data<float>().ToArray().Select(v => (double)v).ToArray();
        foreach (var name in new[] { "module.hidden.weight", "module.output.weight" })
        {
            Assert.All(RowNorms(bounded, name), n => Assert.True(n <= 0.3 + 1e-5, $"{name}: a row's norm is {n}"));
            Assert.Contains(RowNorms(free, name), n => n > 0.3); // the bound did something
        }
    }

    [Fact]
    public void ModuleOptions_AreSavedAndRebuiltOnLoad_AndTheUsersObjectIsNotChanged()
    {
        var module = new MlpOptions { Hidden = 24, Dropout = 0.1 };
        var options = Mlp(1, module: module);
        using var model = Fit(options, Small);
        Assert.Equal(24, module.Hidden);
        Assert.Equal(0.1, module.Dropout);
        Assert.Same(module, options.ModuleOptions);
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        using var loaded = DeepTransformer.Load(stream);
        var hidden = ((TorchSharp.Modules.Sequential)((CustomNetwork)loaded.Network).Module).named_children().First(c => c.name == "hidden").module;
        Assert.Equal(24, ((TorchSharp.Modules.Linear)hidden).out_features);
        var test = Images.Value.Test;
        Assert.Equal(model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), loaded.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void Diagnostics_NameTheModulesLayers_AndTransferFreezesAModuleByPath()
    {
        var train = Small;
        using var source = Fit(Mlp(1), train);
        var options = Mlp(1);
        options.Diagnostics = new MLNetDeep.Diagnostics.DiagnosticsOptions();
        options.WarmStartFrom = source;
        options.Transfer = new MLNetDeep.Transfer.TransferOptions { FreezeModules = new[] { "module.hidden" } };
        using var tuned = Fit(options, train);
        var layers = tuned.History.Diagnostics.Single().Layers.Select(l => l.Layer).ToList();
        _out.WriteLine(string.Join(", ", layers));
        Assert.Contains("module.output", layers);
        var before = ControlKit.Weights(source.Network).ToDictionary(w => w.Name, w => ControlKit.Flat(w.W));
        var after = ControlKit.Weights(tuned.Network).ToDictionary(w => w.Name, w => ControlKit.Flat(w.W));
        Assert.Equal(before["module.hidden.weight"], after["module.hidden.weight"]);      // frozen
        Assert.NotEqual(before["module.output.weight"], after["module.output.weight"]);   // trained
    }

    [Fact]
    public void Transfer_ToANewClassCount_ReinitialisesTheModulesOutputLayer()
    {
        using var source = Fit(Mlp(2), Small);
        // a new task with 3 classes: tops, footwear, other
        var ml = new MLContext(seed: 1);
        static string Group(string label) => label switch
        {
            "T-shirt/top" or "Pullover" or "Shirt" or "Coat" => "top",
            "Sandal" or "Sneaker" or "Ankle boot" => "footwear",
            _ => "other",
        };
        var images = TestData.TrainImages(1200).Select(i => new FashionMnistImage { Features = i.Features, Label = Group(i.Label) }).ToList();
        var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(images));
        var train = key.Transform(ml.Data.LoadFromEnumerable(images.Take(800)));
        var test = key.Transform(ml.Data.LoadFromEnumerable(images.Skip(800)));
        var options = Mlp(2);
        options.WarmStartFrom = source;
        // ReplaceOutputLayer allows the new class count; the custom module's own output layer is named in ReinitializeModules
        options.Transfer = new MLNetDeep.Transfer.TransferOptions
        {
            ReplaceOutputLayer = true, ReinitializeModules = new[] { "module.output" }, FreezeModules = new[] { "module.hidden" },
        };
        using var tuned = Fit(options, train);
        Assert.Equal(3, tuned.ClassNames.Count);
        double accuracy = ml.MulticlassClassification.Evaluate(tuned.Transform(test)).MicroAccuracy;
        double majority = images.Skip(800).GroupBy(i => i.Label).Max(g => g.Count()) / 400.0;
        _out.WriteLine($"3-class accuracy on a frozen 10-class body: {accuracy:F4} (majority class {majority:F4})");
        Assert.True(accuracy >= majority + 0.25, $"accuracy {accuracy:F4} is not well above the majority class's {majority:F4}");
        var hidden = (ControlKit.Weights(source.Network).Single(w => w.Name == "module.hidden.weight").W, ControlKit.Weights(tuned.Network).Single(w => w.Name == "module.hidden.weight").W);
        Assert.Equal(ControlKit.Flat(hidden.Item1), ControlKit.Flat(hidden.Item2));
    }

    /// <summary>A module whose forward makes temporaries without a dispose scope of its own (as users write them).</summary>
    private sealed class CarelessMlp : TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>
    {
        private readonly TorchSharp.Modules.Linear hidden;
        private readonly TorchSharp.Modules.Linear output;

        public CarelessMlp(long inputs, int outputs) : base(nameof(CarelessMlp))
        {
            hidden = TorchSharp.torch.nn.Linear(inputs, 16);
            output = TorchSharp.torch.nn.Linear(16, outputs);
            RegisterComponents();
        }

        // x: [B, 784] → [B, outputs]; the intermediates are left to the caller's scope
        public override TorchSharp.torch.Tensor forward(TorchSharp.torch.Tensor x) =>
            output.call(TorchSharp.torch.nn.functional.dropout(TorchSharp.torch.nn.functional.relu(hidden.call(x * 1.0f)), 0.1, training));
    }

    [Fact]
    public void ManyEpochs_OfAModuleWithoutItsOwnDisposeScope_KeepTheLiveTensorCount()
    {
        CustomModules.Register("tests.careless-mlp", c => new CarelessMlp(c.InputSize, c.OutputSize));
        var (train, val) = ControlKit.Data(Ml, 256, 128);
        var options = new CustomModuleOptions { ModuleName = "tests.careless-mlp", InputShape = new[] { 784 }, Epochs = 12, BatchSize = 32, Seed = 1 };
        var live = new Dictionary<int, long>();
        options.Callbacks.Add(new ControlKit.Hook { EpochEnd = (_, s) => live[s.Epoch] = TorchSharp.torch.Tensor.TotalCount });
        using var model = Fit(options, train, val);
        _out.WriteLine(string.Join(", ", live.Select(kv => $"epoch {kv.Key}: {kv.Value}")));
        Assert.Equal(live[2], live[12]);
    }

    [Fact]
    public void Binary_ModuleReturningOneValuePerRow_LearnsFootwear()
    {
        var ml = new MLContext(seed: 1);
        var train = OnnxTestSupport.TrainView(ml, PredictionKind.BinaryClassification, 1500);
        var test = OnnxTestSupport.TestView(ml, PredictionKind.BinaryClassification, 1000);
        var model = ml.BinaryClassification.Trainers.CustomModule(TestModules.FlatOutput, new[] { 784 }, epochs: 2, learningRate: 3e-3).Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"accuracy {metrics.Accuracy:F4} AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy >= 0.93, $"accuracy {metrics.Accuracy:F4} < 0.93");
        Assert.True(metrics.AreaUnderRocCurve >= 0.97, $"AUC {metrics.AreaUnderRocCurve:F4} < 0.97");
    }

    [Fact]
    public void Regression_ModuleLearnsTheTarget_FarBelowTheMeanBaseline()
    {
        var ml = new MLContext(seed: 1);
        var train = OnnxTestSupport.TrainView(ml, PredictionKind.Regression, 1500);
        var test = OnnxTestSupport.TestView(ml, PredictionKind.Regression, 1000);
        var model = ml.Regression.Trainers.CustomModule(TestModules.FlatOutput, new[] { 784 }, epochs: 3, learningRate: 3e-3).Fit(train);
        var metrics = ml.Regression.Evaluate(model.Transform(test));
        var labels = test.GetColumn<float>("Label").ToArray();
        double mean = labels.Average(), std = Math.Sqrt(labels.Select(l => (l - mean) * (l - mean)).Average());
        _out.WriteLine($"rmse {metrics.RootMeanSquaredError:F4} (label std {std:F4}), R² {metrics.RSquared:F4}");
        Assert.True(metrics.RootMeanSquaredError < 0.6 * std, $"rmse {metrics.RootMeanSquaredError:F4} is not far below the mean predictor's {std:F4}");
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }
}
