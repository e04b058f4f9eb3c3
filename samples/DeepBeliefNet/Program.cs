// Deep-belief-net pretraining on Fashion-MNIST: a few labeled images and many unlabeled ones; the MLP's hidden layers
// are pretrained as a stack of RBMs, the first layer's filters and the per-layer curves are drawn, then the net is
// fine-tuned on the labels and compared with the same net trained from its random initialisation.
//   dotnet run -c Release --project samples/DeepBeliefNet -- [--labeled 1000] [--unlabeled 20000] [--layer-epochs 5]
//       [--epochs 15] [--test 10000] [--images DIR]
using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Plotting;
using MLNetDeep.Pretraining;
using MLNetDeep.Training;

int labeled = Arg("--labeled", 1000), unlabeled = Arg("--unlabeled", 20000), layerEpochs = Arg("--layer-epochs", 5);
int epochs = Arg("--epochs", 15), testRows = Arg("--test", 10000);
string images = ArgS("--images", "deep-belief-net");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && (e.RawMessage.StartsWith("pretrained") || e.RawMessage.StartsWith("warning"))) Console.WriteLine(e.RawMessage); };

Console.WriteLine($"Fashion-MNIST: {labeled} labeled + {unlabeled} unlabeled training images, {testRows} test images");
var all = FashionMnist.Read(train: true, take: labeled + unlabeled);
var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(all.Take(labeled)));
var train = keys.Transform(ml.Data.LoadFromEnumerable(all.Take(labeled).ToList()));
var test = keys.Transform(FashionMnist.Load(ml, train: false, take: testRows));
// The unlabeled rows: only the feature column is read (the labels are dropped to show they are not used).
var extra = ml.Transforms.DropColumns("Label").Fit(train).Transform(ml.Data.LoadFromEnumerable(all.Skip(labeled).ToList()));

CnnOptions Options(PretrainingOptions? pretraining) => new()
{
    ImageShape = new ImageShape(1, 28, 28),
    Layers = new(), // no convolutions: an MLP on the 784 pixels
    Head = new DenseHead { HiddenSizes = new() { 256, 128, 64 }, Activation = new Sigmoid(), Dropout = 0, InputDropout = 0 },
    Epochs = epochs,
    BatchSize = 64,
    Seed = 1,
    Pretraining = pretraining,
};

// Pretrain as a deep belief net: CD-1, learning rate 0.1, momentum 0.5 then 0.9, weight decay 2e-4 (Hinton's guide).
var dbn = Options(new PretrainingOptions { UnlabeledData = extra, EpochsPerLayer = layerEpochs, Rbm = new RbmOptions() });
var filters = new FirstLayerSnapshot(); // the pretrained weights, before fine-tuning changes them
dbn.Callbacks.Add(filters);
using var pretrained = ml.MulticlassClassification.Trainers.Cnn(dbn).Fit(train);
using var plain = ml.MulticlassClassification.Trainers.Cnn(Options(null)).Fit(train);

Directory.CreateDirectory(images);
Console.WriteLine("pictures: " + string.Join(", ", new[]
{
    PretrainingPlots.SaveFilters(filters.Weight!, 28, 28, Path.Combine(images, "dbn-filters.png"), count: 100,
        title: "First RBM's filters (100 of 256 hidden units)"),
    PretrainingPlots.SavePseudoLogLikelihood(pretrained.History.Pretraining, Path.Combine(images, "dbn-pseudo-log-likelihood.png")),
    PretrainingPlots.SaveReconstructionError(pretrained.History.Pretraining, Path.Combine(images, "dbn-reconstruction.png")),
}.Select(Path.GetFullPath)));
filters.Weight!.Dispose();

double Accuracy(ITransformer model) => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
string Curve(MLNetDeep.Scoring.DeepTransformer m) => string.Join(" ", m.History.Epochs.Select(e => e.TrainLoss.ToString("F3")));
Console.WriteLine($"training loss per epoch, pretrained: {Curve(pretrained)}");
Console.WriteLine($"training loss per epoch, plain:      {Curve(plain)}");
Console.WriteLine($"test accuracy after {epochs} epochs: pretrained {Accuracy(pretrained):F4}, from random initialisation {Accuracy(plain):F4}");
return 0;

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

/// <summary>Copies the first dense layer's weights when training begins, i.e. right after pretraining.</summary>
sealed class FirstLayerSnapshot : TrainingCallback
{
    public TorchSharp.torch.Tensor? Weight { get; private set; }

    public override void OnTrainBegin(TrainingContext context) =>
        Weight = context.Network.named_parameters().Single(p => p.name == "head.layers.dense0.weight").parameter.detach().clone();
}
