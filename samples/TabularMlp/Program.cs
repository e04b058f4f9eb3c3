// A multilayer perceptron on a real table, LetterRecognition (Debian's r-cran-mlbench: 20,000 rows, 16 integer features,
// 26 letters): the usual ML.NET featurisation, a learning-rate range test to pick Adam's rate, training, evaluation,
// and the model saved inside an ML.NET zip. Writes lr-finder.png (the range test) next to the working folder.
//   dotnet run -c Release --project samples/TabularMlp [-- --epochs 20 --plot docs/images/lr-finder.png]
using System.Globalization;
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Dense;
using MLNetDeep.Optimizers;
using MLNetDeep.Plotting;
using MLNetDeep.Training;

int epochs = Arg("--epochs", 20);
string plotPath = ArgText("--plot", "lr-finder.png");
var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep") Console.WriteLine(e.Message); };

// 1. The table: the first 16,000 rows to train on, the last 4,000 to test (as the data's documentation splits it).
var trainRaw = Mlbench.LetterRecognition(ml, train: true);
var testRaw = Mlbench.LetterRecognition(ml, train: false);

// 2. Featurisation, fitted on the training rows: one vector of the 16 columns, standardised; the letter as a key.
var featurisation = ml.Transforms.Concatenate("Features", Mlbench.LetterFeatures.ToArray())
    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label", Mlbench.LetterLabel))
    .Fit(trainRaw);
var train = ml.Data.Cache(featurisation.Transform(trainRaw));
var test = featurisation.Transform(testRaw);

// 3. The network: two hidden layers of 256 ReLU units with batch norm and a little dropout.
var options = new MlpOptions
{
    HiddenSizes = new() { 256, 256 },
    BatchNorm = true,
    Dropout = 0.1,
    Epochs = epochs,
    BatchSize = 128,
    ValidationFraction = 0.1,
};

// 4. The learning-rate range test: the rate rises from 1e-7 to 10 over 100 batches; the suggestion is where the loss
//    falls fastest. The options above are not changed by it.
var trainer = ml.MulticlassClassification.Trainers.Mlp(options);
var range = trainer.FindLearningRate(train);
Console.WriteLine(range);
Console.WriteLine($"wrote {range.SavePlot(plotPath, "Learning-rate range test: MLP 256-256 on LetterRecognition (Adam)")}");

// 5. Train at the suggested rate and evaluate on the 4,000 test rows.
options.Optimizer = new Adam { LearningRate = range.SuggestedRate };
var model = ml.MulticlassClassification.Trainers.Mlp(options).Fit(train);
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"test accuracy {metrics.MicroAccuracy:F4} (macro {metrics.MacroAccuracy:F4}) after {model.History.StoppedEpoch} epochs at learning rate {range.SuggestedRate:G3}"));

// 6. The whole pipeline (featurisation + MLP) in one ML.NET zip, scored by ONNX Runtime after loading.
var pipeline = featurisation.Append(model);
ml.Model.Save(pipeline, trainRaw.Schema, "letters-mlp.zip");
var reloaded = ml.Model.Load("letters-mlp.zip", out _);
var again = ml.MulticlassClassification.Evaluate(reloaded.Transform(testRaw));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reloaded letters-mlp.zip: test accuracy {again.MicroAccuracy:F4}"));
return 0;

int Arg(string key, int def) => Array.IndexOf(args, key) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def;
string ArgText(string key, string def) => Array.IndexOf(args, key) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : def;
