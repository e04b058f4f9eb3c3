using System.Globalization;
using MLNetDeep.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Diagnostics;

/// <summary>
/// Collects <see cref="DiagnosticsOptions"/> figures during one training run, as a component of the loop: gradient
/// norms after backward, update ratios after the step, activation statistics through forward hooks, one
/// <see cref="EpochDiagnostics"/> per epoch into the history. Per-step figures are accumulated in device tensors and
/// read once per epoch, so sampling every batch costs no extra host synchronisation.
/// </summary>
internal sealed class GradientMonitor : TrainingCallback, IDisposable
{
    private readonly DiagnosticsOptions _o;
    private readonly List<(string Name, Parameter P)> _weights;
    private readonly List<(string Name, string Kind, nn.Module<Tensor, Tensor> Module)> _acts = new();
    private readonly List<Action> _hooks = new(); // hook removers
    private Action<string>? _warn;
    private readonly HashSet<string> _warnedKinds = new();

    private Tensor? _gradSum, _gradMax, _ratioSum; // [layers]
    private Tensor? _actStat, _actMean, _actSq;     // [activations]
    private long _gradSteps, _ratioSteps, _actSteps;
    private List<Tensor>? _before;
    private bool _sampling;

    public GradientMonitor(nn.Module network, DiagnosticsOptions options, Action<string>? warn = null)
    {
        _o = options;
        _warn = warn;
        _weights = network.named_parameters()
            .Where(p => p.parameter.requires_grad && p.parameter.dim() > 1 && p.name.EndsWith("weight", StringComparison.Ordinal))
            .Select(p => (p.name.EndsWith(".weight", StringComparison.Ordinal) ? p.name[..^7] : p.name, p.parameter)).ToList();
        if (!options.ActivationStatistics) return;
        foreach (var (name, module) in network.named_modules())
        {
            string? kind = module switch { ReLU => "relu", Sigmoid => "sigmoid", Tanh => "tanh", _ => null };
            if (kind is null || module is not nn.Module<Tensor, Tensor> typed) continue;
            int index = _acts.Count;
            _acts.Add((name, kind, typed));
            var remover = typed.register_forward_hook((_, _, output) => { OnActivation(index, kind, output); return output; });
            _hooks.Add(remover.remove);
        }
    }

    public override void OnTrainBegin(TrainingContext context) => _warn ??= context.Warn;
    public override void OnBatchBegin(TrainingContext context, int batch) => BeginStep(context.GlobalStep);
    public override void OnGradientsComputed(TrainingContext context) => OnGradients();
    public override void OnAfterStep(TrainingContext context) => AfterStep();
    public override void OnEpochEnd(TrainingContext context, EpochSummary summary) => context.History.Diagnostics.Add(EndEpoch(summary.Epoch));

    /// <summary>Whether the step with this global index is measured; arms the activation hooks for its forward pass.</summary>
    public void BeginStep(long globalStep) => _sampling = globalStep % _o.SampleEveryBatches == 0;

    private void OnActivation(int index, string kind, Tensor output)
    {
        if (!_sampling) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var y = output.detach();
        Tensor stat;
        if (kind == "relu")
        {
            // A unit is dead on this batch when it outputs 0 for every row (and every position of a feature map).
            var units = y.dim() > 2 ? y.transpose(0, 1).flatten(1) : y.t(); // [units, rows·positions]
            stat = units.gt(0).any(1).logical_not().to(ScalarType.Float32).mean();
        }
        else
        {
            double m = _o.SaturationMargin;
            stat = kind == "sigmoid"
                ? y.lt(m).logical_or(y.gt(1 - m)).to(ScalarType.Float32).mean()
                : y.abs().gt(1 - m).to(ScalarType.Float32).mean();
        }
        _actStat ??= zeros(_acts.Count, device: y.device).DetachFromDisposeScope();
        _actMean ??= zeros(_acts.Count, device: y.device).DetachFromDisposeScope();
        _actSq ??= zeros(_acts.Count, device: y.device).DetachFromDisposeScope();
        _actStat[index].add_(stat);
        var yf = y.to(ScalarType.Float32);
        _actMean[index].add_(yf.mean());
        _actSq[index].add_(yf.pow(2).mean());
    }

    /// <summary>After backward: gradient norms; keeps a copy of the weights to measure the update.</summary>
    public void OnGradients()
    {
        if (!_sampling || _weights.Count == 0) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var norms = stack(_weights.Select(w => w.P.grad is Tensor g ? g.norm() : zeros(1, device: w.P.device).squeeze()).ToArray()).to(ScalarType.Float64);
        _gradSum ??= zeros_like(norms).DetachFromDisposeScope();
        _gradMax ??= zeros_like(norms).DetachFromDisposeScope();
        _gradSum.add_(norms);
        _gradMax.copy_(maximum(_gradMax, norms));
        _gradSteps++;
        if (_actStat is not null) _actSteps++;
        _before = _weights.Select(w => w.P.detach().clone().DetachFromDisposeScope()).ToList();
    }

    /// <summary>After the optimizer step (and constraints): the update/weight ratio.</summary>
    public void AfterStep()
    {
        if (_before is null) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ratios = stack(_weights.Select((w, i) => (w.P - _before[i]).norm() / w.P.norm().clamp_min(1e-12)).ToArray()).to(ScalarType.Float64);
        _ratioSum ??= zeros_like(ratios).DetachFromDisposeScope();
        _ratioSum.add_(ratios);
        _ratioSteps++;
        foreach (var t in _before) t.Dispose();
        _before = null;
        _sampling = false;
    }

    /// <summary>Reads and resets the epoch's accumulators; raises warnings.</summary>
    public EpochDiagnostics EndEpoch(int epoch)
    {
        _sampling = false;
        using var scope = NewDisposeScope();
        var result = new EpochDiagnostics { Epoch = epoch };
        double[] grad = Read(_gradSum, _weights.Count), gmax = Read(_gradMax, _weights.Count), ratio = Read(_ratioSum, _weights.Count);
        using (no_grad())
            for (int i = 0; i < _weights.Count; i++)
                result.Layers.Add(new LayerStatistics
                {
                    Layer = _weights[i].Name,
                    GradientNorm = _gradSteps > 0 ? grad[i] / _gradSteps : double.NaN,
                    MaxGradientNorm = _gradSteps > 0 ? gmax[i] : double.NaN,
                    WeightNorm = _weights[i].P.norm().item<float>(),
                    UpdateRatio = _ratioSteps > 0 ? ratio[i] / _ratioSteps : double.NaN,
                });
        double[] stat = Read(_actStat, _acts.Count), mean = Read(_actMean, _acts.Count), sq = Read(_actSq, _acts.Count);
        for (int i = 0; i < _acts.Count && _actSteps > 0; i++)
        {
            double m = mean[i] / _actSteps, s = stat[i] / _actSteps;
            result.Activations.Add(new ActivationStatistics
            {
                Layer = _acts[i].Name,
                Kind = _acts[i].Kind,
                DeadFraction = _acts[i].Kind == "relu" ? s : null,
                SaturatedFraction = _acts[i].Kind == "relu" ? null : s,
                Mean = m,
                Std = Math.Sqrt(Math.Max(0, sq[i] / _actSteps - m * m)),
            });
        }
        foreach (var t in new[] { _gradSum, _gradMax, _ratioSum, _actStat, _actMean, _actSq }) t?.Dispose();
        _gradSum = _gradMax = _ratioSum = _actStat = _actMean = _actSq = null;
        _gradSteps = _ratioSteps = _actSteps = 0;
        Check(result);
        return result;
    }

    private static double[] Read(Tensor? t, int n) =>
        t is null ? new double[n] : t.to(ScalarType.Float64).cpu().data<double>().ToArray();

    private void Check(EpochDiagnostics d)
    {
        if (d.Layers.Count == 0) return;
        var ci = CultureInfo.InvariantCulture;
        var first = d.Layers[0];
        var last = d.Layers[^1];
        var bad = d.Layers.FirstOrDefault(l => !double.IsFinite(l.GradientNorm) || l.MaxGradientNorm > _o.ExplodingNorm);
        if (bad is not null)
            Warn(d, "exploding", string.Format(ci,
                "Exploding gradients at epoch {0}: layer '{1}' reached a gradient norm of {2:G3} (limit {3:G3}). " +
                "Likely causes: a learning rate too high, too large an initialisation, or a deep/recurrent stack without normalisation. " +
                "Fixes: lower the learning rate, Regularization.GradientClipNorm (e.g. 1.0), batch norm.",
                d.Epoch, bad.Layer, bad.MaxGradientNorm, _o.ExplodingNorm));
        if (d.Layers.Count >= 2 && last.GradientNorm > 0 && first.GradientNorm < _o.VanishingRatio * last.GradientNorm)
            Warn(d, "vanishing", string.Format(ci,
                "Vanishing gradients at epoch {0}: the first layer '{1}' gets a gradient norm of {2:G3}, {3:G2} times the last layer's ('{4}', {5:G3}); " +
                "early layers barely learn. Likely causes: saturating activations (sigmoid/tanh) in a deep stack, too small an initialisation. " +
                "Fixes: ReLU with He initialisation, batch norm, residual connections, or fewer layers.",
                d.Epoch, first.Layer, first.GradientNorm, first.GradientNorm / last.GradientNorm, last.Layer, last.GradientNorm));
    }

    private void Warn(EpochDiagnostics d, string kind, string message)
    {
        d.Warnings.Add(message);
        if (_warnedKinds.Add(kind)) _warn?.Invoke(message); // log each kind once; the history keeps every epoch's
    }

    public void Dispose()
    {
        foreach (var remove in _hooks) remove();
        foreach (var t in new[] { _gradSum, _gradMax, _ratioSum, _actStat, _actMean, _actSq }) t?.Dispose();
        if (_before is not null) foreach (var t in _before) t.Dispose();
    }
}
