namespace MLNetDeep.Models.Seq2Seq;

/// <summary>How the teacher-forcing ratio falls over training (scheduled sampling, Bengio et al., 2015).</summary>
public enum TeacherForcingDecay
{
    /// <summary>The ratio stays at <see cref="TeacherForcing.Ratio"/>.</summary>
    None,
    /// <summary>Linear from Ratio to FinalRatio over DecayEpochs epochs.</summary>
    Linear,
    /// <summary>Ratio · k^epoch with k chosen so the ratio reaches FinalRatio after DecayEpochs epochs, then stays there.</summary>
    Exponential,
    /// <summary>Bengio et al.'s inverse sigmoid k / (k + exp(epoch / k)), scaled between Ratio and FinalRatio, with k = DecayEpochs / 4.</summary>
    InverseSigmoid,
}

/// <summary>
/// Teacher forcing: at every training step the decoder reads the true previous token with probability
/// <see cref="RatioAt"/>(epoch), otherwise its own previous prediction (per row and step, from a seeded generator).
/// </summary>
public sealed class TeacherForcing
{
    /// <summary>Probability of feeding the true previous token at the first epoch (1 = always: plain teacher forcing).</summary>
    public double Ratio { get; init; } = 1.0;
    /// <summary>How the ratio decays.</summary>
    public TeacherForcingDecay Decay { get; init; } = TeacherForcingDecay.None;
    /// <summary>The ratio the decay ends at.</summary>
    public double FinalRatio { get; init; } = 0.5;
    /// <summary>Epochs over which the ratio moves from Ratio to FinalRatio.</summary>
    public int DecayEpochs { get; init; } = 10;

    /// <summary>The ratio in epoch <paramref name="epoch"/> (0-based).</summary>
    public double RatioAt(int epoch)
    {
        if (Decay == TeacherForcingDecay.None || epoch <= 0) return Ratio;
        double progress = Math.Min(1.0, epoch / (double)DecayEpochs);
        return Decay switch
        {
            TeacherForcingDecay.Linear => Ratio + (FinalRatio - Ratio) * progress,
            TeacherForcingDecay.Exponential => Ratio * Math.Pow(FinalRatio / Ratio, progress),
            _ => InverseSigmoid(epoch),
        };
    }

    private double InverseSigmoid(int epoch)
    {
        double k = Math.Max(1.0, DecayEpochs / 4.0);
        double s0 = k / (k + Math.Exp(0)), s = k / (k + Math.Exp(Math.Min(epoch, DecayEpochs) / k)), sEnd = k / (k + Math.Exp(DecayEpochs / k));
        return FinalRatio + (Ratio - FinalRatio) * (s - sEnd) / (s0 - sEnd);
    }

    /// <summary>Throws naming the option, the value and the rule.</summary>
    public void Validate()
    {
        if (!(Ratio >= 0 && Ratio <= 1)) throw new ArgumentOutOfRangeException(nameof(Ratio), Ratio, $"TeacherForcing.Ratio must be in [0, 1] (1 = always feed the true previous token). Received: Ratio={Ratio}");
        if (!Enum.IsDefined(Decay)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, $"TeacherForcing.Decay must be None, Linear, Exponential or InverseSigmoid. Received: Decay={Decay}");
        if (Decay == TeacherForcingDecay.None) return;
        if (!(FinalRatio >= 0 && FinalRatio <= Ratio)) throw new ArgumentOutOfRangeException(nameof(FinalRatio), FinalRatio, $"TeacherForcing.FinalRatio must be in [0, Ratio={Ratio}]. Received: FinalRatio={FinalRatio}");
        if (Decay == TeacherForcingDecay.Exponential && FinalRatio <= 0) throw new ArgumentOutOfRangeException(nameof(FinalRatio), FinalRatio, $"TeacherForcing.FinalRatio must be > 0 for Exponential decay (use Linear to reach 0). Received: FinalRatio={FinalRatio}");
        if (DecayEpochs <= 0) throw new ArgumentOutOfRangeException(nameof(DecayEpochs), DecayEpochs, $"TeacherForcing.DecayEpochs must be > 0. Received: DecayEpochs={DecayEpochs}");
    }
}
