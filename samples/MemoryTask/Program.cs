// The vanishing-gradient story for recurrent nets, on the adding problem: each row is T steps of (value, marker);
// exactly two steps are marked, one in each half, and the label is the sum of their two values. The network must
// carry the first marked value across up to T steps. Gated cells (LSTM, GRU) learn it; a plain tanh RNN, whose
// gradient through time shrinks at every step, stays at the loss of predicting the mean.
//
//   dotnet run -c Release --project samples/MemoryTask -- [--steps 50] [--train 2000] [--epochs 10] [--out memory-task]
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Plotting;
using MLNetDeep.Training;

int steps = Arg("--steps", 50), trainRows = Arg("--train", 2000), epochs = Arg("--epochs", 10);
string outDir = ArgS("--out", "memory-task");
var ml = new MLContext(seed: 1);
var train = ml.Data.LoadFromEnumerable(AddingProblem.Generate(trainRows, steps, seed: 1));
var validation = ml.Data.LoadFromEnumerable(AddingProblem.Generate(500, steps, seed: 2));
Console.WriteLine($"Adding problem: {steps} steps, {trainRows} training rows, 500 validation rows, {epochs} epochs, hidden 32, Adam 1e-2, batch 32");
Console.WriteLine($"Predicting the mean scores an MSE of 1/6 = {AddingProblem.MeanPredictorMse:F4} (the variance of a sum of two U(0,1) values).");

var runs = new List<(string, TrainingHistory)>();
foreach (var cell in new[] { RecurrentCell.Lstm, RecurrentCell.Gru, RecurrentCell.Rnn })
{
    var options = new SequenceOptions
    {
        Input = new NumericSequence(FeaturesPerStep: 2),
        Cell = cell,
        Nonlinearity = RnnNonlinearity.Tanh,
        HiddenSize = 32,
        Epochs = epochs,
        BatchSize = 32,
        Seed = 1,
        Optimizer = new Adam { LearningRate = 1e-2 },
    };
    var trainer = ml.Regression.Trainers.Sequence(options);
    var model = trainer.Fit(train, validation);
    var mse = ml.Regression.Evaluate(model.Transform(validation)).MeanSquaredError;
    Console.WriteLine($"{cell,-4}: validation MSE {mse:F4} ({model.History.TotalDuration.TotalSeconds:F1}s)");
    runs.Add((cell == RecurrentCell.Rnn ? "tanh RNN" : cell.ToString().ToUpperInvariant(), model.History));
}

// The trainer standardises regression labels, so its loss is in units of the label variance: 1 = predicting the mean.
var png = TrainingPlots.SaveLossComparison(runs, Path.Combine(outDir, "adding-problem.png"),
    $"Adding problem over {steps} steps: validation loss", (1.0, "predicting the mean"));
Console.WriteLine($"plot: {Path.GetFullPath(png)}");

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

