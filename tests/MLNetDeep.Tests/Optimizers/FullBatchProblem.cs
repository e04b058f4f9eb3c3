using System.Globalization;
using System.Text.Json;
using MLNetDeep.Optimizers;
using MLNetDeep.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Tests.Optimizers;

/// <summary>
/// A smooth full-batch problem for testing optimizers without the trainer: parameters, a loss over the whole data set,
/// and the closure L-BFGS calls (zero the gradients, loss, backward, return the loss).
/// </summary>
internal sealed class FullBatchProblem : IDisposable
{
    private readonly Func<IReadOnlyList<Parameter>, Tensor> _loss;
    private readonly List<Tensor> _data;

    private FullBatchProblem(List<Parameter> parameters, Func<IReadOnlyList<Parameter>, Tensor> loss, List<Tensor> data)
    {
        Parameters = parameters;
        _loss = loss;
        _data = data;
    }

    public List<Parameter> Parameters { get; }

    /// <summary>Loss evaluations through <see cref="Closure"/> so far.</summary>
    public int Evaluations { get; private set; }

    /// <summary>The loss at the current parameters (no gradient, not counted).</summary>
    public double Loss()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return _loss(Parameters).ToDouble();
    }

    /// <summary>The closure of <see cref="IParameterUpdater.Step(Func{double})"/>.</summary>
    public Func<double> Closure(IParameterUpdater updater) => () =>
    {
        using var scope = NewDisposeScope();
        updater.ZeroGrad();
        var loss = _loss(Parameters);
        loss.backward();
        Evaluations++;
        return loss.ToDouble();
    };

    /// <summary>One updater over all parameters.</summary>
    public IParameterUpdater Updater(Optimizer optimizer) =>
        optimizer.CreateUpdater(new[] { new ParameterGroup("all", Parameters) });

    /// <summary>
    /// Runs <paramref name="steps"/> full-batch steps; returns the loss after each and the loss evaluations (forward +
    /// backward passes) so far. A first-order method gets its gradient from one closure call before its step; L-BFGS with a
    /// line search evaluates through the closure itself.
    /// </summary>
    public (double[] Loss, int[] Evaluations) Run(Optimizer optimizer, int steps)
    {
        using var updater = Updater(optimizer);
        var closure = Closure(updater);
        var losses = new double[steps];
        var evaluations = new int[steps];
        for (int s = 0; s < steps; s++)
        {
            if (optimizer is not Lbfgs { NeedsClosure: true }) closure();
            updater.Step(closure);
            losses[s] = Loss();
            evaluations[s] = Evaluations;
        }
        return (losses, evaluations);
    }

    public void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
        foreach (var t in _data) t.Dispose();
    }

    // ---- the data sets and models ----

    /// <summary>
    /// The UCI Wisconsin breast-cancer set (569 × 30, scikit-learn's copy in Fixtures/breast_cancer.csv), each feature
    /// standardised with the population std, as lbfgs_reference.py does. Labels 0/1.
    /// </summary>
    public static (Tensor X, Tensor Y) BreastCancer(ScalarType dtype = ScalarType.Float64)
    {
        var lines = File.ReadAllLines(Fixture("breast_cancer.csv")).Skip(1).Where(l => l.Length > 0).ToList();
        var x = new double[lines.Count, 30];
        var y = new double[lines.Count];
        for (int r = 0; r < lines.Count; r++)
        {
            var cells = lines[r].Split(',');
            for (int c = 0; c < 30; c++) x[r, c] = double.Parse(cells[c], CultureInfo.InvariantCulture);
            y[r] = double.Parse(cells[30], CultureInfo.InvariantCulture);
        }
        using var raw = tensor(x);
        using var mean = raw.mean(new long[] { 0 });
        using var std = raw.std(0, unbiased: false);
        return (((raw - mean) / std).to(dtype).DetachFromDisposeScope(), tensor(y).to(dtype).DetachFromDisposeScope());
    }

    /// <summary>Logistic regression, mean binary cross-entropy + ½·λ‖w‖².</summary>
    public static FullBatchProblem Logistic(Tensor x, Tensor y, double l2, IReadOnlyList<double[]>? initial = null)
    {
        var dtype = x.dtype;
        var w = new Parameter(initial is null ? zeros(x.shape[1], dtype) : tensor(initial[0]).to(dtype));
        var b = new Parameter(initial is null ? zeros(1, dtype) : tensor(initial[1]).to(dtype));
        return new FullBatchProblem(new List<Parameter> { w, b },
            p => F.binary_cross_entropy_with_logits(x.matmul(p[0]) + p[1], y) + 0.5 * l2 * p[0].square().sum(), new List<Tensor> { x, y });
    }

    /// <summary>A 30 → 8 (tanh) → 1 net with binary cross-entropy, from the given initial weights (w1 [8,30], b1, w2 [8], b2).</summary>
    public static FullBatchProblem Mlp(Tensor x, Tensor y, IReadOnlyList<double[]> initial)
    {
        var dtype = x.dtype;
        var w1 = new Parameter(tensor(initial[0]).reshape(8, x.shape[1]).to(dtype));
        var b1 = new Parameter(tensor(initial[1]).to(dtype));
        var w2 = new Parameter(tensor(initial[2]).to(dtype));
        var b2 = new Parameter(tensor(initial[3]).to(dtype));
        return new FullBatchProblem(new List<Parameter> { w1, b1, w2, b2 },
            p => F.binary_cross_entropy_with_logits(tanh(x.matmul(p[0].t()) + p[1]).matmul(p[2]) + p[3], y), new List<Tensor> { x, y });
    }

    /// <summary>Softmax regression (784 → 10, from zeros) on the first <paramref name="rows"/> Fashion-MNIST training images, mean cross-entropy.</summary>
    public static FullBatchProblem FashionSoftmax(int rows)
    {
        var images = TestData.TrainImages(rows);
        var classes = images.Select(i => i.Label).Distinct().OrderBy(l => l, StringComparer.Ordinal).ToList();
        var x = tensor(images.SelectMany(i => i.Features).ToArray(), new long[] { rows, 784 });
        var y = tensor(images.Select(i => (long)classes.IndexOf(i.Label)).ToArray());
        var w = new Parameter(zeros(classes.Count, 784));
        var b = new Parameter(zeros(classes.Count));
        return new FullBatchProblem(new List<Parameter> { w, b },
            p => F.cross_entropy(x.matmul(p[0].t()) + p[1], y), new List<Tensor> { x, y });
    }

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static JsonElement ReadJson(string name) => JsonDocument.Parse(File.ReadAllText(Fixture(name))).RootElement;
}
