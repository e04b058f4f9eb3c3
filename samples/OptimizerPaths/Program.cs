// Optimizer paths on f(x, y) = x²/20 + y² from (−7, 2), drawn with the same optimizer classes the trainers use
// (through OptimizerTrace, which runs their updaters), and the rate curve of every learning-rate schedule.
//   dotnet run -c Release --project samples/OptimizerPaths -- [--out docs/images] [--steps 30]
using System.Globalization;
using MLNetDeep.Optimizers;
using MLNetDeep.Schedules;
using ScottPlot;
using static TorchSharp.torch;

string outDir = ArgS("--out", Path.Combine("docs", "images"));
int steps = int.Parse(ArgS("--steps", "30"), CultureInfo.InvariantCulture);
Directory.CreateDirectory(outDir);

// ---- 1. Optimizer paths ------------------------------------------------------------------------------------
static Tensor F(Tensor p) => p[0].square() / 20 + p[1].square();
static double FValue(double x, double y) => x * x / 20 + y * y;
double[] start = { -7.0, 2.0 };

// The learning rates of the classic figure (Saito, "Deep Learning from Scratch", §6.1.7); RMSprop and Nadam added.
var optimizers = new (string Title, Optimizer Optimizer)[]
{
    ("SGD (lr 0.95)", new Sgd { LearningRate = 0.95 }),
    ("Momentum (lr 0.1, 0.9)", new Sgd { LearningRate = 0.1, Momentum = 0.9 }),
    ("AdaGrad (lr 1.5)", new Adagrad { LearningRate = 1.5 }),
    ("RMSprop (lr 0.3)", new RmsProp { LearningRate = 0.3 }),
    ("Adam (lr 0.3)", new Adam { LearningRate = 0.3 }),
    ("Nadam (lr 0.3)", new Nadam { LearningRate = 0.3 }),
};

// Contour grid of f over the plotted window.
var grid = new Coordinates3d[81, 161];
for (int r = 0; r < 81; r++)
    for (int c = 0; c < 161; c++)
    {
        double x = -10 + c * 0.125, y = -5 + r * 0.125;
        grid[r, c] = new Coordinates3d(x, y, FValue(x, y));
    }

var paths = new Multiplot();
paths.Subplots.RemoveAt(0); // a new Multiplot starts with one empty plot
Console.WriteLine($"f(x, y) = x^2/20 + y^2 from (-7, 2), {steps} steps:");
foreach (var (title, optimizer) in optimizers)
{
    var path = OptimizerTrace.Run(optimizer, F, start, steps);
    var last = path[^1];
    int near = path.FindIndex(p => Math.Sqrt(p[0] * p[0] + p[1] * p[1]) < 0.5);
    int flips = Enumerable.Range(1, Math.Min(20, steps) - 1).Count(k => (path[k][1] - path[k - 1][1]) * (path[k + 1][1] - path[k][1]) < 0);
    Console.WriteLine(FormattableString.Invariant(
        $"  {title,-24} end ({last[0],8:F4}, {last[1],8:F4})  f {FValue(last[0], last[1]):G3}  within 0.5 of the minimum after {(near < 0 ? "-" : near.ToString())} steps  y reversals in 20 steps: {flips}"));

    var plot = new Plot();
    var contours = plot.Add.ContourLines(grid, 12);
    contours.LineColor = Colors.Gray.WithAlpha(0.6);
    contours.LabelStyle.IsVisible = false;
    var line = plot.Add.Scatter(path.Select(p => p[0]).ToArray(), path.Select(p => p[1]).ToArray(), Colors.Red);
    line.MarkerSize = 4;
    line.LineWidth = 1.5f;
    plot.Add.Marker(0, 0, MarkerShape.Cross, 12, Colors.Black);
    plot.Title(title);
    plot.Axes.SetLimits(-10, 10, -5, 5);
    paths.Subplots.Add(plot);
}
paths.Layout = new ScottPlot.MultiplotLayouts.Grid(2, 3);
string pathsPng = Path.Combine(outDir, "optimizer-paths.png");
paths.SavePng(pathsPng, 1200, 700);
Console.WriteLine($"wrote {pathsPng}");

// ---- 2. Schedule curves ------------------------------------------------------------------------------------
const double initial = 0.1;
const int n = 100;
var schedules = new (string Title, Func<double[]> Rates)[]
{
    ("Constant", () => new ConstantSchedule().Preview(initial, n)),
    ("PiecewiseConstant [30, 70]", () => new PiecewiseConstant { Boundaries = new long[] { 30, 70 }, Values = new[] { 0.1, 0.03, 0.01 } }.Preview(initial, n)),
    ("ExponentialDecay 0.5 / 25", () => new ExponentialDecay { DecaySteps = 25, DecayRate = 0.5 }.Preview(initial, n)),
    ("ExponentialDecay staircase", () => new ExponentialDecay { DecaySteps = 25, DecayRate = 0.5, Staircase = true }.Preview(initial, n)),
    ("PolynomialDecay power 2", () => new PolynomialDecay { DecaySteps = 80, EndRate = 0.005, Power = 2 }.Preview(initial, n)),
    ("PolynomialDecay cycle", () => new PolynomialDecay { DecaySteps = 30, EndRate = 0.005, Cycle = true }.Preview(initial, n)),
    ("InverseTimeDecay", () => new InverseTimeDecay { DecaySteps = 10, DecayRate = 0.5 }.Preview(initial, n)),
    ("CosineDecay alpha 0.1", () => new CosineDecay { DecaySteps = 100, Alpha = 0.1 }.Preview(initial, n)),
    ("CosineDecayRestarts", () => new CosineDecayRestarts { FirstDecaySteps = 15, TMul = 2, MMul = 0.7 }.Preview(initial, n)),
    ("OneCycle", () => new OneCycle { TotalSteps = 100 }.Preview(initial, n)),
    ("LinearWarmup + CosineDecay", () => new LinearWarmup { WarmupSteps = 10, Schedule = new CosineDecay { DecaySteps = 90 } }.Preview(initial, n)),
    ("ReduceOnPlateau, per epoch", () => new ReduceOnPlateau { Factor = 0.5, Patience = 3, MinRate = 0.005 }.Simulate(initial, SyntheticValidationLoss(n - 1))),
    ("Custom: 0.1·0.97^epoch, 4 batches/epoch", () => new CustomSchedule((_, epoch, lr0) => lr0 * Math.Pow(0.97, epoch), "0.97 per epoch").Preview(initial, n / 4, 4)),
};

var curves = new Multiplot();
curves.Subplots.RemoveAt(0);
Console.WriteLine($"schedules from rate {initial}, {n} steps (first, middle, last rate):");
foreach (var (title, rates) in schedules)
{
    var r = rates();
    Console.WriteLine(FormattableString.Invariant($"  {title,-40} {r[0]:G4}  {r[r.Length / 2]:G4}  {r[^1]:G4}"));
    var plot = new Plot();
    plot.Add.ScatterLine(Enumerable.Range(0, r.Length).Select(i => (double)i).ToArray(), r, Colors.Blue).LineWidth = 2;
    plot.Title(title, size: 12);
    plot.XLabel(title.Contains("epoch") ? "step (batches; the rate changes per epoch)" : "step", size: 10);
    plot.Axes.SetLimitsY(0, initial * 1.05);
    curves.Subplots.Add(plot);
}
curves.Layout = new ScottPlot.MultiplotLayouts.Grid(5, 3);
string curvesPng = Path.Combine(outDir, "schedules.png");
curves.SavePng(curvesPng, 1200, 1250);
Console.WriteLine($"wrote {curvesPng}");
return 0;

// A validation loss that falls, then flattens with noise: what ReduceOnPlateau reacts to.
static double[] SyntheticValidationLoss(int epochs)
{
    var rng = new Random(4);
    return Enumerable.Range(0, epochs).Select(e => 0.3 + Math.Exp(-e / 8.0) + 0.02 * rng.NextDouble()).ToArray();
}

string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
