using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Control;

/// <summary>Small Fashion-MNIST setups shared by the training-control tests (regularisation, early stopping, diagnostics, ...).</summary>
internal static class ControlKit
{
    /// <summary>Train and test views with a key-typed label (one MapValueToKey fitted on the training rows).</summary>
    public static (IDataView Train, IDataView Test) Data(MLContext ml, int train, int test, int skipTrain = 0)
    {
        var trainView = ml.Data.LoadFromEnumerable(TestData.TrainImages(skipTrain + train).Skip(skipTrain).ToList());
        var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TestData.TrainImages(2000)));
        return (key.Transform(trainView), key.Transform(TestData.TestView(ml, test)));
    }

    /// <summary>A dense-only network (no conv layers) on 28×28 images: an MLP with the given hidden sizes.</summary>
    public static CnnOptions Mlp(int[] hidden, Activation? activation = null, int epochs = 2, bool batchNorm = false, double dropout = 0) => new()
    {
        ImageShape = new ImageShape(1, 28, 28),
        Layers = new List<CnnLayer>(),
        Head = new DenseHead { HiddenSizes = hidden.ToList(), Activation = activation ?? new Relu(), Dropout = dropout, InputDropout = 0, BatchNorm = batchNorm },
        Epochs = epochs,
        BatchSize = 64,
        Seed = 3,
    };

    public static DeepTransformer Fit(CnnOptions options, IDataView train, IDataView? validation = null) =>
        new CnnTrainer(options, PredictionKind.MulticlassClassification).Fit(train, validation);

    public static double Accuracy(MLContext ml, ITransformer model, IDataView test) =>
        ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

    /// <summary>All weight matrices (Linear/Conv) of a network.</summary>
    public static List<(string Name, Tensor W)> Weights(nn.Module network) =>
        network.named_parameters().Where(p => p.parameter.dim() > 1 && p.name.EndsWith("weight")).Select(p => (p.name, (Tensor)p.parameter)).ToList();

    public static float[] Flat(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    /// <summary>A callback made of lambdas.</summary>
    public sealed class Hook : TrainingCallback
    {
        public Action<TrainingContext, int>? EpochBegin;
        public Action<TrainingContext>? BeforeStep;
        public Action<TrainingContext, int, double>? BatchEnd;
        public Action<TrainingContext, EpochSummary>? EpochEnd;
        public override void OnEpochBegin(TrainingContext c, int e) => EpochBegin?.Invoke(c, e);
        public override void OnBeforeStep(TrainingContext c) => BeforeStep?.Invoke(c);
        public override void OnBatchEnd(TrainingContext c, int b, double l) => BatchEnd?.Invoke(c, b, l);
        public override void OnEpochEnd(TrainingContext c, EpochSummary s) => EpochEnd?.Invoke(c, s);
    }
}
