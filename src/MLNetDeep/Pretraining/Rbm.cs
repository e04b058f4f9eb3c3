using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Pretraining;

/// <summary>
/// A restricted Boltzmann machine with binary (Bernoulli) hidden units and Bernoulli or unit-variance Gaussian visible
/// units, trained by CD-k or persistent CD with momentum and weight decay (Hinton 2010, <i>A Practical Guide to Training
/// RBMs</i>). Weights are stored as TorchSharp's Linear stores them, [hidden, visible], so W and the hidden bias drop
/// straight into the dense layer the RBM initialises. Every random draw comes from the generator passed in.
/// </summary>
internal sealed class Rbm : IDisposable
{
    /// <summary>Standard deviation of the initial weights, N(0, 0.01²) (Hinton; scikit-learn).</summary>
    public const double InitialWeightStd = 0.01;

    public Rbm(long visible, long hidden, RbmVisibleUnits kind, Generator generator, Device device)
        : this(normal(0, InitialWeightStd, new[] { hidden, visible }, ScalarType.Float32, device, generator: generator),
               zeros(hidden, device: device), zeros(visible, device: device), kind) { }

    /// <summary>An RBM with the given parameters (taken over: disposed with it).</summary>
    public Rbm(Tensor weight, Tensor hiddenBias, Tensor visibleBias, RbmVisibleUnits kind)
    {
        Weight = weight.DetachFromDisposeScope();
        HiddenBias = hiddenBias.DetachFromDisposeScope();
        VisibleBias = visibleBias.DetachFromDisposeScope();
        Kind = kind;
    }

    /// <summary>W, [hidden, visible].</summary>
    public Tensor Weight { get; }
    /// <summary>c, [hidden].</summary>
    public Tensor HiddenBias { get; }
    /// <summary>b, [visible].</summary>
    public Tensor VisibleBias { get; }
    public RbmVisibleUnits Kind { get; }
    public long VisibleCount => Weight.shape[1];

    // v: [B, visible] → p(h = 1 | v): [B, hidden]
    public Tensor HiddenProbabilities(Tensor v) => sigmoid(F.linear(v, Weight, HiddenBias));

    // h: [B, hidden] → E[v | h]: [B, visible]
    public Tensor VisibleMean(Tensor h)
    {
        var a = h.matmul(Weight) + VisibleBias;
        return Kind == RbmVisibleUnits.Bernoulli ? sigmoid(a) : a;
    }

    /// <summary>
    /// F(v) = −log Σₕ exp(−E(v, h)): −b·v − Σⱼ softplus(cⱼ + Wⱼ·v) for Bernoulli visible units,
    /// ½‖v − b‖² − Σⱼ softplus(cⱼ + Wⱼ·v) for unit-variance Gaussian ones. v: [B, visible] → [B].
    /// </summary>
    public Tensor FreeEnergy(Tensor v)
    {
        var hiddenTerm = F.softplus(F.linear(v, Weight, HiddenBias)).sum(1);
        var visibleTerm = Kind == RbmVisibleUnits.Bernoulli ? -v.matmul(VisibleBias) : 0.5 * (v - VisibleBias).square().sum(1);
        return visibleTerm - hiddenTerm;
    }

    /// <summary>
    /// scikit-learn's <c>BernoulliRBM.score_samples</c>: for each row flip visible unit <paramref name="flip"/>[r]
    /// (v → 1 − v) and return n_visible · log σ(F(v') − F(v)), the stochastic pseudo-log-likelihood. v: [B, visible], flip: [B] → [B].
    /// </summary>
    public Tensor PseudoLogLikelihood(Tensor v, Tensor flip)
    {
        var index = flip.unsqueeze(1);
        var flipped = v.scatter(1, index, 1 - v.gather(1, index));
        return VisibleCount * F.logsigmoid(FreeEnergy(flipped) - FreeEnergy(v));
    }

    /// <summary>Mean squared error of the mean-field reconstruction E[v | p(h | v)], over rows and units.</summary>
    public double ReconstructionError(Tensor v)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return (VisibleMean(HiddenProbabilities(v)) - v).square().mean().ToDouble();
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes over <paramref name="data"/> ([N, visible]) in shuffled mini-batches.
    /// Returns the reconstruction error and (Bernoulli visible units only) the mean pseudo-log-likelihood on the first
    /// <see cref="RbmOptions.MonitorRows"/> rows after each epoch.
    /// </summary>
    public (List<double> Reconstruction, List<double> PseudoLogLikelihood) Train(Tensor data, RbmOptions o, int epochs, int batchSize, Generator generator)
    {
        using var _ = no_grad();
        long n = data.shape[0];
        using var monitor = data.narrow(0, 0, Math.Min(n, o.MonitorRows));
        var state = new TrainingState(this);
        var reconstruction = new List<double>();
        var pll = new List<double>();
        try
        {
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                double momentum = o.MomentumAt(epoch);
                using (var perm = randperm(n, device: data.device, generator: generator))
                    for (long s = 0; s < n; s += batchSize)
                    {
                        using var scope = NewDisposeScope();
                        Update(data.index_select(0, perm.narrow(0, s, Math.Min(batchSize, n - s))), o, momentum, generator, state);
                    }
                reconstruction.Add(ReconstructionError(monitor));
                if (Kind == RbmVisibleUnits.Bernoulli) pll.Add(MeanPseudoLogLikelihood(monitor, generator));
            }
        }
        finally
        {
            state.Dispose();
        }
        return (reconstruction, pll);
    }

    /// <summary>Mean pseudo-log-likelihood of the rows, one random unit flipped per row.</summary>
    public double MeanPseudoLogLikelihood(Tensor v, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var flip = randint(VisibleCount, new[] { v.shape[0] }, ScalarType.Int64, v.device, generator: generator);
        return PseudoLogLikelihood(v, flip).mean().ToDouble();
    }

    /// <summary>Velocities (momentum) and the persistent chains' hidden states, alive across updates.</summary>
    internal sealed class TrainingState : IDisposable
    {
        public readonly Tensor WeightVelocity, HiddenVelocity, VisibleVelocity;
        public Tensor? Chains;

        public TrainingState(Rbm rbm)
        {
            WeightVelocity = zeros_like(rbm.Weight).DetachFromDisposeScope();
            HiddenVelocity = zeros_like(rbm.HiddenBias).DetachFromDisposeScope();
            VisibleVelocity = zeros_like(rbm.VisibleBias).DetachFromDisposeScope();
        }

        public void Dispose()
        {
            WeightVelocity.Dispose();
            HiddenVelocity.Dispose();
            VisibleVelocity.Dispose();
            Chains?.Dispose();
        }
    }

    /// <summary>
    /// One CD-k / PCD-k update on the batch v0 ([B, visible]):
    ///   positive phase: p0 = p(h | v0); negative phase: k Gibbs steps h → v → h from a sample of p0 (CD) or from the
    ///   persistent chains (PCD), ending at (vk, pk); gradient ΔW = p0ᵀv0/B − pkᵀvk/B', Δc = mean(p0 − pk), Δb = mean(v0 − vk);
    ///   with momentum μ and weight decay λ: V ← μV + lr·(ΔW − λW), W ← W + V (biases alike, without decay).
    /// </summary>
    internal void Update(Tensor v0, RbmOptions o, double momentum, Generator generator, TrainingState state)
    {
        using var _ = no_grad();
        var p0 = HiddenProbabilities(v0);
        Tensor h;
        if (!o.Persistent) h = o.SampleHidden ? bernoulli(p0, generator) : p0;
        else h = state.Chains ?? bernoulli(p0, generator); // chains start at a sample of the first batch
        Tensor vk = v0, pk = p0;
        for (int step = 1; step <= o.GibbsSteps; step++)
        {
            var mean = VisibleMean(h);
            vk = !o.SampleVisible ? mean
                : Kind == RbmVisibleUnits.Bernoulli ? bernoulli(mean, generator)
                : mean + randn(mean.shape, mean.dtype, mean.device, generator: generator);
            pk = HiddenProbabilities(vk);
            if (step < o.GibbsSteps) h = o.SampleHidden ? bernoulli(pk, generator) : pk;
        }
        if (o.Persistent)
        {
            var next = (o.SampleHidden ? bernoulli(pk, generator) : pk.clone()).DetachFromDisposeScope();
            state.Chains?.Dispose();
            state.Chains = next;
        }

        double rows = v0.shape[0], chains = vk.shape[0];
        var dW = p0.t().matmul(v0) / rows - pk.t().matmul(vk) / chains;
        var dc = p0.mean(new long[] { 0 }) - pk.mean(new long[] { 0 });
        var db = v0.mean(new long[] { 0 }) - vk.mean(new long[] { 0 });
        if (o.WeightDecay > 0) dW.add_(Weight, -o.WeightDecay);
        state.WeightVelocity.mul_(momentum).add_(dW, o.LearningRate);
        state.HiddenVelocity.mul_(momentum).add_(dc, o.LearningRate);
        state.VisibleVelocity.mul_(momentum).add_(db, o.LearningRate);
        Weight.add_(state.WeightVelocity);
        HiddenBias.add_(state.HiddenVelocity);
        VisibleBias.add_(state.VisibleVelocity);
    }

    public void Dispose()
    {
        Weight.Dispose();
        HiddenBias.Dispose();
        VisibleBias.Dispose();
    }
}
