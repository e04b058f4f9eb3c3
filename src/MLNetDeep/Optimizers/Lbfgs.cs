using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Optimizers;

/// <summary>How <see cref="Lbfgs"/> chooses the step length along its search direction.</summary>
public enum LbfgsLineSearch
{
    /// <summary>A fixed step t = lr (the first iteration: min(1, 1/‖g‖₁)·lr). PyTorch's <c>line_search_fn=None</c>.</summary>
    None,
    /// <summary>
    /// A step satisfying the strong Wolfe conditions (sufficient decrease, c1 = 1e-4; curvature, c2 = 0.9), found by
    /// bracketing and cubic interpolation with at most 25 loss evaluations: PyTorch's <c>line_search_fn="strong_wolfe"</c>.
    /// </summary>
    StrongWolfe,
}

/// <summary>
/// L-BFGS (limited-memory BFGS, Nocedal 1980): a quasi-Newton method that builds a curvature estimate from
/// the last <see cref="HistorySize"/> steps. For small, smooth problems trained full-batch
/// (<c>BatchSize = TrainerOptions.FullBatch</c>): mini-batch noise spoils the curvature pairs.
/// Defaults as PyTorch (lr 1, history 100, gradient tolerance 1e-7, change tolerance 1e-9), except
/// <see cref="MaxIterations"/> (1 here, 20 in PyTorch).
/// </summary>
/// <remarks>
/// <para>Each trainer step runs up to <see cref="MaxIterations"/> L-BFGS iterations, exactly PyTorch's
/// <c>LBFGS(max_iter, max_eval, line_search_fn)</c>: direction d = −H·g from the two-loop recursion (H₀ = sᵀy/yᵀy),
/// then a step w ← w + t·d whose length t comes from <see cref="LineSearch"/>. A pair (s, y) enters the memory only when
/// sᵀy &gt; 1e-10. A step ends early when max|g| ≤ <see cref="GradientTolerance"/>, when gᵀd &gt; −<see cref="ChangeTolerance"/>,
/// when max|t·d| or the change in loss is at most <see cref="ChangeTolerance"/>, or after <see cref="MaxEvaluations"/> loss evaluations.</para>
/// <para>With the defaults (one iteration, no line search) a step uses the gradient the training loop has just
/// computed and evaluates nothing more. With a line search, or more than one iteration, the step re-evaluates the
/// loss through the closure of <see cref="IParameterUpdater.Step(Func{double})"/>: once at the start, then once per
/// line-search trial (usually 1–3 per iteration). That is the price of the curvature information: a step costs
/// several forward and backward passes over the batch, so compare methods per loss evaluation, not only per step.
/// Without a line search keep the rate ≤ 1; lower it if the loss jumps. With <see cref="LbfgsLineSearch.StrongWolfe"/>
/// the rate is only the first trial step (1 is right).</para>
/// </remarks>
public sealed class Lbfgs : Optimizer
{
    /// <summary>Creates L-BFGS with PyTorch's default rate 1.</summary>
    public Lbfgs() { LearningRate = 1.0; }

    /// <summary>Curvature pairs kept (memory: 2 × this × the parameter count). Default 100.</summary>
    public int HistorySize { get; init; } = 100;
    /// <summary>No step is taken once the largest gradient component is at most this. Default 1e-7.</summary>
    public double GradientTolerance { get; init; } = 1e-7;
    /// <summary>
    /// A step ends when the directional derivative gᵀd is above −this (no descent left), or when the last move
    /// (max|t·d|) or the change in loss is at most this. Default 1e-9.
    /// </summary>
    public double ChangeTolerance { get; init; } = 1e-9;
    /// <summary>How the step length is chosen. Default <see cref="LbfgsLineSearch.None"/> (a fixed step of the learning rate).</summary>
    public LbfgsLineSearch LineSearch { get; init; } = LbfgsLineSearch.None;
    /// <summary>L-BFGS iterations per trainer step (PyTorch's <c>max_iter</c>, whose default is 20). Default 1.</summary>
    public int MaxIterations { get; init; } = 1;
    /// <summary>Most loss evaluations per trainer step (PyTorch's <c>max_eval</c>). Null (default) = MaxIterations × 5 / 4, as PyTorch.</summary>
    public int? MaxEvaluations { get; init; }

    /// <summary>True when a step re-evaluates the loss (a line search or more than one iteration), so it needs the closure.</summary>
    internal bool NeedsClosure => LineSearch != LbfgsLineSearch.None || MaxIterations > 1;

    /// <inheritdoc />
    public override string Name => "lbfgs";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(HistorySize > 0, nameof(HistorySize), HistorySize, "must be > 0");
        Require(GradientTolerance >= 0, nameof(GradientTolerance), GradientTolerance, "must be >= 0");
        Require(ChangeTolerance >= 0, nameof(ChangeTolerance), ChangeTolerance, "must be >= 0");
        Require(MaxIterations >= 1, nameof(MaxIterations), MaxIterations, "must be >= 1");
        if (MaxEvaluations is int e) Require(e >= 1, nameof(MaxEvaluations), e, "must be >= 1 (or null for MaxIterations × 5 / 4)");
        if (!Enum.IsDefined(LineSearch))
            throw new ArgumentOutOfRangeException(nameof(LineSearch), LineSearch,
                $"Lbfgs.LineSearch must be None or StrongWolfe. Received: LineSearch={(int)LineSearch}");
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        var used = groups.Where(g => g.Parameters.Count > 0).ToList();
        if (used.Select(g => g.LearningRateMultiplier).Distinct().Count() > 1)
            throw new NotSupportedException(
                "Lbfgs treats all parameters as one vector, so parameter groups with different learning-rate multipliers " +
                $"({string.Join(", ", used.Select(g => $"{g.Name}: {g.LearningRateMultiplier}"))}) are not supported. Use one multiplier, or Adam/SGD.");
        return new LbfgsUpdater(this, used.SelectMany(g => g.Parameters).ToList(), used.Count > 0 ? used[0].LearningRateMultiplier : 1.0);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}(lr={LearningRate:G4}, history={HistorySize}" + (NeedsClosure ? $", iterations={MaxIterations}, line search={LineSearch}" : "") + ")";
}

/// <summary>
/// L-BFGS over the flattened parameters, PyTorch's <c>torch.optim.LBFGS</c> (1.13) step for step: the two-loop
/// recursion, and optionally several iterations per step and the strong-Wolfe line search (<see cref="StrongWolfe"/>).
/// Scalars are kept in double precision (PyTorch keeps them in the parameters' dtype).
/// </summary>
internal sealed class LbfgsUpdater : IParameterUpdater
{
    // Format tag of SaveState (the first format, before the line search, began with the iteration count, which is >= 0).
    private const long StateVersion2 = -2;

    private readonly Lbfgs _options;
    private readonly List<Parameter> _params;
    private readonly double _multiplier;
    private readonly List<(Tensor S, Tensor Y, double Rho)> _memory = new();
    private Tensor? _direction, _previousGrad;
    private double _t, _hDiag = 1;
    private double _previousLoss = double.NaN;
    private long _iterations, _evaluations;
    private double _rate;

    public LbfgsUpdater(Lbfgs options, List<Parameter> parameters, double multiplier)
    {
        _options = options;
        _params = parameters;
        _multiplier = multiplier;
        _rate = options.LearningRate;
    }

    /// <summary>Loss evaluations (closure calls) so far, over all steps.</summary>
    internal long Evaluations => _evaluations;

    /// <summary>L-BFGS iterations so far, over all steps.</summary>
    internal long Iterations => _iterations;

    public void ZeroGrad()
    {
        foreach (var p in _params)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    public void SetLearningRate(double rate) => _rate = rate;

    public void SaveState(BinaryWriter writer)
    {
        writer.Write(StateVersion2);
        writer.Write(_iterations);
        writer.Write(_evaluations);
        writer.Write(_t);
        writer.Write(_hDiag);
        writer.Write(_previousLoss);
        writer.Write(_memory.Count);
        foreach (var (s, y, rho) in _memory) { s.Save(writer); y.Save(writer); writer.Write(rho); }
        writer.Write(_direction is not null);
        _direction?.Save(writer);
        writer.Write(_previousGrad is not null);
        _previousGrad?.Save(writer);
    }

    public void LoadState(BinaryReader reader)
    {
        Dispose();
        long first = reader.ReadInt64();
        bool v2 = first == StateVersion2;
        _iterations = v2 ? reader.ReadInt64() : first;
        _evaluations = v2 ? reader.ReadInt64() : 0;
        _t = reader.ReadDouble();
        _hDiag = reader.ReadDouble();
        _previousLoss = v2 ? reader.ReadDouble() : double.NaN;
        int n = reader.ReadInt32();
        for (int i = 0; i < n; i++)
        {
            var s = LoadVector(reader);
            var y = LoadVector(reader);
            _memory.Add((s, y, reader.ReadDouble()));
        }
        _direction = reader.ReadBoolean() ? LoadVector(reader) : null;
        _previousGrad = reader.ReadBoolean() ? LoadVector(reader) : null;
    }

    private Tensor LoadVector(BinaryReader reader)
    {
        var t = TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope();
        long expected = _params.Sum(p => p.numel());
        if (t.numel() != expected)
        {
            t.Dispose();
            throw new InvalidDataException($"The saved L-BFGS state is for {t.numel()} parameters but this run has {expected}; resume with the network of the interrupted run.");
        }
        return t;
    }

    /// <summary>One iteration from the gradients already on the parameters (no loss evaluation): max_iter = 1, no line search.</summary>
    public void Step()
    {
        if (_options.NeedsClosure)
            throw new InvalidOperationException(
                $"Lbfgs with LineSearch = {_options.LineSearch} and MaxIterations = {_options.MaxIterations} re-evaluates the loss inside a step, " +
                "so it needs Step(closure). Call Step(closure), or use LineSearch = None with MaxIterations = 1.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = FlatGrad();
        if (g.abs().max().ToDouble() <= _options.GradientTolerance) return;
        var (d, t, gtd) = NextDirection(g);
        if (gtd > -_options.ChangeTolerance) return;
        AddToParameters(t, d);
    }

    /// <summary>PyTorch's <c>LBFGS.step(closure)</c>. Without a line search and with one iteration it is <see cref="Step()"/>.</summary>
    public void Step(Func<double> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        if (!_options.NeedsClosure) { Step(); return; }
        using var scope = NewDisposeScope();
        int maxEvaluations = _options.MaxEvaluations ?? _options.MaxIterations * 5 / 4;
        double loss = Evaluate(closure);
        int evaluations = 1;
        var g = FlatGrad();
        if (g.abs().max().ToDouble() <= _options.GradientTolerance) return;

        for (int n = 1; n <= _options.MaxIterations; n++)
        {
            // Temporaries of one iteration (trial points, trial gradients) go when it ends; g keeps the current gradient.
            using var iteration = NewDisposeScope();
            var (d, t, gtd) = NextDirection(g);
            double previousLoss = _previousLoss = loss;
            if (gtd > -_options.ChangeTolerance) break;

            bool optimal = false;
            if (_options.LineSearch == LbfgsLineSearch.StrongWolfe)
            {
                List<Tensor> start;
                using (no_grad()) start = _params.Select(p => p.detach().clone()).ToList();
                var search = StrongWolfe.Search((step, dir) => EvaluateAt(closure, start, step, dir), t, d, loss, g, gtd, _options.ChangeTolerance);
                loss = search.Loss;
                t = _t = search.Step;
                using (no_grad()) g.copy_(search.Gradient);
                AddToParameters(t, d);
                evaluations += search.Evaluations;
                optimal = g.abs().max().ToDouble() <= _options.GradientTolerance;
            }
            else
            {
                AddToParameters(t, d);
                if (n != _options.MaxIterations)
                {
                    // Re-evaluate only if another iteration follows (PyTorch: no use in a stochastic setting).
                    loss = Evaluate(closure);
                    using (no_grad()) g.copy_(FlatGrad());
                    optimal = g.abs().max().ToDouble() <= _options.GradientTolerance;
                    evaluations++;
                }
            }

            if (n == _options.MaxIterations || evaluations >= maxEvaluations || optimal) break;
            if ((d * t).abs().max().ToDouble() <= _options.ChangeTolerance) break; // lack of progress
            if (Math.Abs(loss - previousLoss) < _options.ChangeTolerance) break;
        }
    }

    /// <summary>Calls the closure with gradients enabled (the step itself runs under no_grad) and counts it.</summary>
    private double Evaluate(Func<double> closure)
    {
        double loss;
        using (enable_grad()) loss = closure();
        _evaluations++;
        return loss;
    }

    /// <summary>Loss and flat gradient at start + t·d; the parameters are put back to <paramref name="start"/> after.</summary>
    private (double Loss, Tensor Gradient) EvaluateAt(Func<double> closure, List<Tensor> start, double t, Tensor d)
    {
        AddToParameters(t, d);
        double loss = Evaluate(closure);
        var g = FlatGrad();
        using (no_grad())
            for (int i = 0; i < _params.Count; i++) _params[i].copy_(start[i]);
        return (loss, g);
    }

    /// <summary>
    /// One L-BFGS iteration's direction from the gradient g at the current point: updates the curvature memory with
    /// the last step (s = t·d, y = g − g_prev), runs the two-loop recursion, stores g, d and the initial step length t.
    /// Returns d (owned by this updater), t and gᵀd.
    /// </summary>
    private (Tensor D, double T, double Gtd) NextDirection(Tensor g)
    {
        using var _ = no_grad();
        _iterations++;
        Tensor d;
        if (_iterations == 1)
        {
            d = g.neg();
            _hDiag = 1;
        }
        else
        {
            var y = g - _previousGrad!;
            var s = _direction! * _t;
            double ys = y.dot(s).ToDouble();
            if (ys > 1e-10)
            {
                if (_memory.Count == _options.HistorySize)
                {
                    _memory[0].S.Dispose();
                    _memory[0].Y.Dispose();
                    _memory.RemoveAt(0);
                }
                _memory.Add((s.DetachFromDisposeScope(), y.DetachFromDisposeScope(), 1.0 / ys));
                _hDiag = ys / y.dot(y).ToDouble();
            }
            // Two-loop recursion: d = −H·g.
            var alpha = new double[_memory.Count];
            var q = g.neg();
            for (int i = _memory.Count - 1; i >= 0; i--)
            {
                alpha[i] = _memory[i].S.dot(q).ToDouble() * _memory[i].Rho;
                q.add_(_memory[i].Y, -alpha[i]);
            }
            d = q.mul(_hDiag);
            for (int i = 0; i < _memory.Count; i++)
            {
                double beta = _memory[i].Y.dot(d).ToDouble() * _memory[i].Rho;
                d.add_(_memory[i].S, alpha[i] - beta);
            }
        }

        if (_previousGrad is null) _previousGrad = g.clone().DetachFromDisposeScope();
        else _previousGrad.copy_(g);
        double lr = _rate * _multiplier;
        _t = _iterations == 1 ? Math.Min(1.0, 1.0 / g.abs().sum().ToDouble()) * lr : lr;
        _direction?.Dispose();
        _direction = d.DetachFromDisposeScope();
        return (_direction, _t, g.dot(_direction).ToDouble());
    }

    private void AddToParameters(double t, Tensor d)
    {
        using var _ = no_grad();
        long offset = 0;
        foreach (var p in _params)
        {
            long n = p.numel();
            p.add_(d.narrow(0, offset, n).view_as(p), t);
            offset += n;
        }
    }

    private Tensor FlatGrad()
    {
        using var _ = no_grad();
        return cat(_params.Select(p =>
        {
            var grad = p.grad;
            return grad is null ? zeros(p.numel(), p.dtype, p.device) : grad.reshape(-1);
        }).ToList(), 0);
    }

    public void Dispose()
    {
        foreach (var (s, y, _) in _memory) { s.Dispose(); y.Dispose(); }
        _memory.Clear();
        _direction?.Dispose();
        _previousGrad?.Dispose();
        (_direction, _previousGrad) = (null, null);
    }
}
