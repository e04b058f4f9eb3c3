using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Optimizers;

/// <summary>
/// L-BFGS (limited-memory BFGS, Nocedal 1980): a quasi-Newton method that builds a curvature estimate from
/// the last <see cref="HistorySize"/> steps. For small problems trained full-batch
/// (<c>BatchSize = TrainerOptions.FullBatch</c>): mini-batch noise spoils the curvature pairs.
/// Defaults as PyTorch: lr 1, history 100, gradient tolerance 1e-7, change tolerance 1e-9.
/// </summary>
/// <remarks>
/// <para>Each trainer step is one L-BFGS iteration, exactly PyTorch's <c>LBFGS(max_iter=1, line_search_fn=None)</c>:
/// direction d = −H·g from the two-loop recursion (H₀ = sᵀy/yᵀy), step w ← w + t·d with t = lr
/// (t = min(1, 1/‖g‖₁)·lr on the very first iteration). A pair (s, y) enters the memory only when sᵀy &gt; 1e-10.
/// No step is taken when max|g| ≤ <see cref="GradientTolerance"/> or gᵀd &gt; −<see cref="ChangeTolerance"/>.</para>
/// <para>Several iterations per batch and the strong-Wolfe line search need the loss re-evaluated inside the step
/// (PyTorch's closure); MLNetDeep's training loop computes one loss and gradient per step, so they are not offered.
/// Without a line search keep the rate ≤ 1; lower it if the loss jumps.</para>
/// </remarks>
public sealed class Lbfgs : Optimizer
{
    /// <summary>Creates L-BFGS with PyTorch's default rate 1.</summary>
    public Lbfgs() { LearningRate = 1.0; }

    /// <summary>Curvature pairs kept (memory: 2 × this × the parameter count). Default 100.</summary>
    public int HistorySize { get; init; } = 100;
    /// <summary>No step is taken once the largest gradient component is at most this. Default 1e-7.</summary>
    public double GradientTolerance { get; init; } = 1e-7;
    /// <summary>No step is taken once the directional derivative gᵀd is above −this (no descent left). Default 1e-9.</summary>
    public double ChangeTolerance { get; init; } = 1e-9;

    /// <inheritdoc />
    public override string Name => "lbfgs";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(HistorySize > 0, nameof(HistorySize), HistorySize, "must be > 0");
        Require(GradientTolerance >= 0, nameof(GradientTolerance), GradientTolerance, "must be >= 0");
        Require(ChangeTolerance >= 0, nameof(ChangeTolerance), ChangeTolerance, "must be >= 0");
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
    public override string ToString() => $"{Name}(lr={LearningRate:G4}, history={HistorySize})";
}

/// <summary>One L-BFGS iteration per step over the flattened parameters (PyTorch's LBFGS with max_iter = 1, no line search).</summary>
internal sealed class LbfgsUpdater : IParameterUpdater
{
    private readonly Lbfgs _options;
    private readonly List<Parameter> _params;
    private readonly double _multiplier;
    private readonly List<(Tensor S, Tensor Y, double Rho)> _memory = new();
    private Tensor? _direction, _previousGrad;
    private double _t, _hDiag = 1;
    private long _iterations;
    private double _rate;

    public LbfgsUpdater(Lbfgs options, List<Parameter> parameters, double multiplier)
    {
        _options = options;
        _params = parameters;
        _multiplier = multiplier;
        _rate = options.LearningRate;
    }

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
        writer.Write(_iterations);
        writer.Write(_t);
        writer.Write(_hDiag);
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
        _iterations = reader.ReadInt64();
        _t = reader.ReadDouble();
        _hDiag = reader.ReadDouble();
        int n = reader.ReadInt32();
        for (int i = 0; i < n; i++)
        {
            var s = TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope();
            var y = TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope();
            _memory.Add((s, y, reader.ReadDouble()));
        }
        _direction = reader.ReadBoolean() ? TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope() : null;
        _previousGrad = reader.ReadBoolean() ? TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope() : null;
    }

    public void Step()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = FlatGrad();
        if (g.abs().max().ToDouble() <= _options.GradientTolerance) return;

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

        _previousGrad?.Dispose();
        _previousGrad = g.clone().DetachFromDisposeScope();
        double lr = _rate * _multiplier;
        _t = _iterations == 1 ? Math.Min(1.0, 1.0 / g.abs().sum().ToDouble()) * lr : lr;
        _direction?.Dispose();
        _direction = d.DetachFromDisposeScope();

        if (g.dot(d).ToDouble() > -_options.ChangeTolerance) return;
        long offset = 0;
        foreach (var p in _params)
        {
            long n = p.numel();
            p.add_(_direction.narrow(0, offset, n).view_as(p), _t);
            offset += n;
        }
    }

    private Tensor FlatGrad() => cat(_params.Select(p =>
    {
        var grad = p.grad;
        return grad is null ? zeros(p.numel(), p.dtype, p.device) : grad.reshape(-1);
    }).ToList(), 0);

    public void Dispose()
    {
        foreach (var (s, y, _) in _memory) { s.Dispose(); y.Dispose(); }
        _memory.Clear();
        _direction?.Dispose();
        _previousGrad?.Dispose();
        (_direction, _previousGrad) = (null, null);
    }
}
