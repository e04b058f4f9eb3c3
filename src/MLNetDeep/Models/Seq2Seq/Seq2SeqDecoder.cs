using static TorchSharp.torch;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>How beam search compares hypotheses of different lengths (|Y| = tokens + the end token).</summary>
public enum LengthNormalization
{
    /// <summary>Raw log-probability: favours short outputs.</summary>
    None,
    /// <summary>Log-probability / |Y| (mean log-probability per prediction).</summary>
    Average,
    /// <summary>Wu et al. (2016, GNMT): log-probability / ((5 + |Y|)^α / 6^α), α = <see cref="Seq2SeqDecodeOptions.LengthPenaltyAlpha"/>.</summary>
    Gnmt,
}

/// <summary>Decoding settings: greedy (BeamWidth 1) or beam search.</summary>
public sealed class Seq2SeqDecodeOptions
{
    /// <summary>Hypotheses kept per row; 1 = greedy decoding.</summary>
    public int BeamWidth { get; init; } = 1;
    /// <summary>How finished hypotheses are compared (beam search).</summary>
    public LengthNormalization LengthNormalization { get; init; } = LengthNormalization.None;
    /// <summary>α of <see cref="LengthNormalization.Gnmt"/> (Wu et al. used 0.6–0.7).</summary>
    public double LengthPenaltyAlpha { get; init; } = 0.6;
    /// <summary>Most tokens per row (end token not counted); null = the architecture's MaxOutputLength.</summary>
    public int? MaxOutputLength { get; init; }
    /// <summary>Keep each output step's attention weights over the source (for heat maps).</summary>
    public bool ReturnAttention { get; init; }

    /// <summary>These settings with <see cref="MaxOutputLength"/> = <paramref name="maxOutputLength"/> (and no attention weights).</summary>
    internal Seq2SeqDecodeOptions WithMaxOutputLength(int maxOutputLength) => new()
    {
        BeamWidth = BeamWidth, LengthNormalization = LengthNormalization, LengthPenaltyAlpha = LengthPenaltyAlpha, MaxOutputLength = maxOutputLength,
    };

    internal void Validate()
    {
        if (BeamWidth < 1) throw new ArgumentOutOfRangeException(nameof(BeamWidth), BeamWidth, $"BeamWidth must be >= 1 (1 = greedy; typical 4-10). Received: BeamWidth={BeamWidth}");
        if (!Enum.IsDefined(LengthNormalization)) throw new ArgumentOutOfRangeException(nameof(LengthNormalization), LengthNormalization, $"LengthNormalization must be None, Average or Gnmt. Received: LengthNormalization={LengthNormalization}");
        if (!(LengthPenaltyAlpha >= 0 && double.IsFinite(LengthPenaltyAlpha))) throw new ArgumentOutOfRangeException(nameof(LengthPenaltyAlpha), LengthPenaltyAlpha, $"LengthPenaltyAlpha must be a finite number >= 0. Received: LengthPenaltyAlpha={LengthPenaltyAlpha}");
        if (MaxOutputLength is int m && m <= 0) throw new ArgumentOutOfRangeException(nameof(MaxOutputLength), m, $"MaxOutputLength must be > 0 (most tokens per row), or null for the model's. Received: MaxOutputLength={m}");
    }

    /// <summary>The comparison score of a hypothesis with log-probability <paramref name="logProbability"/> over <paramref name="predictions"/> predictions.</summary>
    public double Score(double logProbability, int predictions) => LengthNormalization switch
    {
        LengthNormalization.Average => logProbability / predictions,
        LengthNormalization.Gnmt => logProbability / Math.Pow((5.0 + predictions) / 6.0, LengthPenaltyAlpha),
        _ => logProbability,
    };
}

/// <summary>One decoded row.</summary>
public sealed class Seq2SeqPrediction
{
    /// <summary>Target key ids 1..K, end token excluded.</summary>
    public required int[] Tokens { get; init; }
    /// <summary>Log-probability of the whole output under the model: the tokens and the end token (natural log).</summary>
    public double LogProbability { get; init; }
    /// <summary>The score beam search ranked it by (<see cref="LogProbability"/> after length normalisation).</summary>
    public double Score { get; init; }
    /// <summary>Attention weights [output step][source step] (one row per token and one for the end token), when asked for.</summary>
    public float[][]? Attention { get; init; }
}

/// <summary>
/// Batched decoding of a <see cref="Seq2SeqNetwork"/>: greedy and beam search. Both stop a row at its end token and make
/// at most MaxOutputLength + 1 predictions: when MaxOutputLength tokens have been produced, the next prediction is the
/// end token (its log-probability counts), so every returned output is finished and scored the same way. Beam search
/// keeps BeamWidth hypotheses per row; a hypothesis that ends is set aside only when its end token ranks among the
/// BeamWidth best candidates of the step, and a row stops as soon as BeamWidth hypotheses have finished (early stopping),
/// so width 1 is exactly greedy decoding whatever the length normalisation; the best finished one by score is returned.
/// </summary>
public static class Seq2SeqDecoder
{
    /// <summary>Decodes a batch: source [B, S] ids / [B, S, F] steps / [B, ...] vectors, lengths [B] int64 or null.</summary>
    public static Seq2SeqPrediction[] Decode(Seq2SeqNetwork network, Tensor source, Tensor? lengths, Seq2SeqDecodeOptions? options = null)
        => Decode(network, source, lengths, options, forceBeamSearch: false);

    /// <summary>As <see cref="Decode(Seq2SeqNetwork, Tensor, Tensor?, Seq2SeqDecodeOptions?)"/>; <paramref name="forceBeamSearch"/> runs the beam search code even for width 1 (tests).</summary>
    internal static Seq2SeqPrediction[] Decode(Seq2SeqNetwork network, Tensor source, Tensor? lengths, Seq2SeqDecodeOptions? options, bool forceBeamSearch)
    {
        options ??= new Seq2SeqDecodeOptions();
        options.Validate();
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            int maxTokens = options.MaxOutputLength ?? network.Architecture.MaxOutputLength;
            return options.BeamWidth == 1 && !forceBeamSearch ? Greedy(network, source, lengths, maxTokens, options) : Beam(network, source, lengths, maxTokens, options);
        }
        finally
        {
            if (wasTraining) network.train();
        }
    }

    private static Seq2SeqPrediction[] Greedy(Seq2SeqNetwork net, Tensor source, Tensor? lengths, int maxTokens, Seq2SeqDecodeOptions options)
    {
        var arch = net.Architecture;
        int endIndex = arch.OutputClasses - 1;
        using var enc = net.Encode(source, lengths);
        int b = (int)enc.Memory.shape[0];
        var tokens = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var attention = options.ReturnAttention ? Enumerable.Range(0, b).Select(_ => new List<float[]>()).ToArray() : null;
        var logp = new double[b];
        var done = new bool[b];
        int remaining = b;
        Tensor previous = full(new long[] { b }, arch.StartId, ScalarType.Int64, device: enc.Memory.device), h = enc.H;
        Tensor? c = enc.C;
        for (int t = 0; t <= maxTokens && remaining > 0; t++)
        {
            using var step = NewDisposeScope();
            var (logits, h1, c1, weights) = net.Step(previous, h, c, enc);
            var lp = logits.log_softmax(-1);                                                   // [B, K+1]
            var choice = t == maxTokens ? full(new long[] { b }, endIndex, ScalarType.Int64, device: lp.device) : lp.argmax(-1);
            var chosen = lp.gather(1, choice.unsqueeze(1)).squeeze(1).to(ScalarType.Float64).cpu().data<double>().ToArray();
            var ids = choice.cpu().data<long>().ToArray();
            var w = attention is null ? null : weights?.cpu();
            for (int i = 0; i < b; i++)
            {
                if (done[i]) continue;
                logp[i] += chosen[i];
                if (w is not null) attention![i].Add(w[i].data<float>().ToArray());
                if (ids[i] == endIndex) { done[i] = true; remaining--; }
                else tokens[i].Add((int)ids[i] + 1);
            }
            previous = (choice + 1).MoveToOuterDisposeScope();
            h = h1.MoveToOuterDisposeScope();
            c = c1?.MoveToOuterDisposeScope();
        }
        return Enumerable.Range(0, b).Select(i => new Seq2SeqPrediction
        {
            Tokens = tokens[i].ToArray(), LogProbability = logp[i], Score = options.Score(logp[i], tokens[i].Count + 1),
            Attention = attention?[i].ToArray(),
        }).ToArray();
    }

    private sealed record Hypothesis(int[] Tokens, double LogProbability, double Score, float[][]? Attention);

    private static Seq2SeqPrediction[] Beam(Seq2SeqNetwork net, Tensor source, Tensor? lengths, int maxTokens, Seq2SeqDecodeOptions options)
    {
        var arch = net.Architecture;
        int width = options.BeamWidth, classes = arch.OutputClasses, endIndex = classes - 1;
        using var encoded = net.Encode(source, lengths);
        int b = (int)encoded.Memory.shape[0], slots = b * width;
        var device = encoded.Memory.device;
        using var repeat = arange(b, device: device).repeat_interleave(width);                  // [B·W]: 0,0,..,1,1,..
        using var enc = encoded.Select(repeat);
        bool keepAttention = options.ReturnAttention;

        // Running hypotheses, slot = row·W + beam. Only beam 0 is alive at the start (all beams would be copies).
        var score = new double[slots];
        for (int s = 0; s < slots; s++) score[s] = s % width == 0 ? 0 : double.NegativeInfinity;
        var seqs = Enumerable.Range(0, slots).Select(_ => new List<int>()).ToArray();
        var attn = keepAttention ? Enumerable.Range(0, slots).Select(_ => new List<float[]>()).ToArray() : null;
        var finished = Enumerable.Range(0, b).Select(_ => new List<Hypothesis>()).ToArray();
        var done = new bool[b];

        Tensor previous = full(new long[] { slots }, arch.StartId, ScalarType.Int64, device: device), h = enc.H;
        Tensor? c = enc.C;
        var candidates = new List<(double Score, int Beam, int Index)>(width * classes);
        for (int t = 0; t <= maxTokens && done.Any(d => !d); t++)
        {
            using var step = NewDisposeScope();
            var (logits, h1, c1, weights) = net.Step(previous, h, c, enc);
            var lp = logits.log_softmax(-1).to(ScalarType.Float64).cpu().data<double>().ToArray(); // [B·W·(K+1)]
            var w = keepAttention ? weights?.cpu() : null;
            var sourceSlot = new long[slots];
            var nextToken = new long[slots];
            var newScore = new double[slots];
            var newSeqs = new List<int>[slots];
            var newAttn = keepAttention ? new List<float[]>[slots] : null;
            for (int row = 0; row < b; row++)
            {
                int first = row * width;
                if (done[row])
                {
                    for (int k = 0; k < width; k++)
                    {
                        sourceSlot[first + k] = first + k; nextToken[first + k] = 0; newScore[first + k] = double.NegativeInfinity;
                        newSeqs[first + k] = seqs[first + k];
                        if (newAttn is not null) newAttn[first + k] = attn![first + k];
                    }
                    continue;
                }
                candidates.Clear();
                for (int k = 0; k < width; k++)
                {
                    double s0 = score[first + k];
                    if (double.IsNegativeInfinity(s0)) continue;
                    int at = (first + k) * classes;
                    if (t == maxTokens) candidates.Add((s0 + lp[at + endIndex], k, endIndex));
                    else for (int j = 0; j < classes; j++) candidates.Add((s0 + lp[at + j], k, j));
                }
                candidates.Sort((x, y) => y.Score.CompareTo(x.Score));
                int kept = 0;
                for (int rank = 0; rank < candidates.Count && kept < width; rank++)
                {
                    var (s, k, j) = candidates[rank];
                    int from = first + k;
                    float[]? stepWeights = w is null ? null : w[from].data<float>().ToArray();
                    if (j == endIndex)
                    {
                        // An ending candidate counts only among the W best of the step (so W = 1 is greedy decoding).
                        if (rank >= width) continue;
                        var tokens = seqs[from].ToArray();
                        float[][]? a = attn is null ? null : attn[from].Append(stepWeights!).ToArray();
                        finished[row].Add(new Hypothesis(tokens, s, options.Score(s, tokens.Length + 1), a));
                        continue;
                    }
                    int slot = first + kept++;
                    sourceSlot[slot] = from; nextToken[slot] = j + 1; newScore[slot] = s;
                    newSeqs[slot] = new List<int>(seqs[from]) { j + 1 };
                    if (newAttn is not null) newAttn[slot] = new List<float[]>(attn![from]) { stepWeights! };
                }
                for (; kept < width; kept++)
                {
                    int slot = first + kept;
                    sourceSlot[slot] = first; nextToken[slot] = 0; newScore[slot] = double.NegativeInfinity;
                    newSeqs[slot] = new List<int>(); if (newAttn is not null) newAttn[slot] = new List<float[]>();
                }
                // A row stops once W hypotheses have finished (early stopping, as OpenNMT and Hugging Face's
                // early_stopping=True): with W = 1 that is the first end token the greedy path would take.
                if (t == maxTokens || finished[row].Count >= width) done[row] = true;
            }
            using var index = tensor(sourceSlot, device: device);
            h = h1.index_select(1, index).MoveToOuterDisposeScope();
            c = c1?.index_select(1, index).MoveToOuterDisposeScope();
            previous = tensor(nextToken, device: device).MoveToOuterDisposeScope();
            score = newScore; seqs = newSeqs; attn = newAttn;
        }
        return finished.Select(list =>
        {
            var best = list.OrderByDescending(x => x.Score).First();
            return new Seq2SeqPrediction { Tokens = best.Tokens, LogProbability = best.LogProbability, Score = best.Score, Attention = best.Attention };
        }).ToArray();
    }

    /// <summary>Greedy path's per-step log-probabilities [B, L, K+1] (see <see cref="Seq2SeqNetwork.Forward(Tensor, Tensor?)"/>).</summary>
    internal static Tensor GreedyLogProbabilities(Seq2SeqNetwork net, Tensor source, Tensor? lengths, int maxTokens)
    {
        using var scope = NewDisposeScope();
        var arch = net.Architecture;
        using var enc = net.Encode(source, lengths);
        long b = enc.Memory.shape[0];
        var steps = new List<Tensor>();
        Tensor previous = full(new long[] { b }, arch.StartId, ScalarType.Int64, device: enc.Memory.device), h = enc.H;
        Tensor? c = enc.C;
        Tensor ended = zeros(new long[] { b }, ScalarType.Bool, device: enc.Memory.device);
        for (int t = 0; t <= maxTokens; t++)
        {
            var (logits, h1, c1, _) = net.Step(previous, h, c, enc);
            var lp = logits.log_softmax(-1);
            steps.Add(t == 0 ? lp : where(ended.unsqueeze(1), steps[^1], lp));
            var choice = lp.argmax(-1);
            ended = ended.logical_or(choice.eq(arch.OutputClasses - 1));
            if (ended.all().item<bool>()) break;
            (previous, h, c) = (choice + 1, h1, c1);
        }
        return stack(steps, 1).MoveToOuterDisposeScope();
    }
}
