using Microsoft.ML;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Schedules;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;

namespace MLNetDeep.Tests.Schedules;

/// <summary>Trains a softmax regression on a few Fashion-MNIST rows, recording the rate of every batch.</summary>
internal static class ScheduleTraining
{
    public sealed class RateRecorder : TrainingCallback
    {
        public List<double> Rates { get; } = new();
        public override void OnBatchEnd(TrainingContext context, int batch, double loss) => Rates.Add(context.LearningRate);
    }

    public static (DeepTransformer Model, List<double> Rates) Train(LearningRateSchedule schedule, double learningRate, int epochs, int rows = 256, int batchSize = 64,
        double validationFraction = 0)
    {
        var ml = new MLContext(1);
        var data = TestData.TrainView(ml, rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var recorder = new RateRecorder();
        var model = ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Layers = new(),
            Head = new DenseHead { HiddenSizes = new(), InputDropout = 0, Dropout = 0 },
            Epochs = epochs,
            BatchSize = batchSize,
            Shuffle = false,
            Optimizer = new Sgd { LearningRate = learningRate },
            LearningRateSchedule = schedule,
            ValidationFraction = validationFraction,
            Callbacks = { recorder },
        }).Fit(keyed);
        return (model, recorder.Rates);
    }
}
