using MLNetDeep.Data;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// One training batch of a <see cref="Seq2SeqNetwork"/>: the collated sources, the decoder's inputs (start id, then
/// the target tokens) and the step targets (output indices: token id − 1, the end token K; <see cref="IgnoredTarget"/>
/// on padding, which the loss skips).
/// </summary>
public sealed class Seq2SeqBatch : IDisposable
{
    /// <summary>The target value of padded steps (cross-entropy's ignore index).</summary>
    public const long IgnoredTarget = -100;

    /// <summary>Sources as the input layout collates them: [B, S] ids, [B, S, F] steps or [B, ...] vectors.</summary>
    public required Tensor Source { get; init; }
    /// <summary>[B] int64 source step counts; null when every row has the same count.</summary>
    public Tensor? SourceLengths { get; init; }
    /// <summary>[B, T+1] int64: start id, the T target ids of the longest row, 0 after a row's end.</summary>
    public required Tensor DecoderInput { get; init; }
    /// <summary>[B, T+1] int64 output indices: the tokens (id − 1), then the end token (K), then <see cref="IgnoredTarget"/>.</summary>
    public required Tensor Target { get; init; }
    /// <summary>Rows in the batch.</summary>
    public int Rows { get; init; }

    /// <summary>
    /// Validates and collates rows: <paramref name="sources"/> as the architecture's input layout reads them (token ids as
    /// floats, numeric steps, or vectors), <paramref name="targets"/> as target key ids 1..K. <paramref name="firstRow"/>
    /// numbers the rows in error messages; the column names too.
    /// </summary>
    public static Seq2SeqBatch Create(Seq2SeqArchitecture arch, IReadOnlyList<float[]> sources, IReadOnlyList<int[]> targets,
        long firstRow = 0, string sourceColumn = "Source", string targetColumn = "Target", Device? device = null)
    {
        if (sources.Count != targets.Count)
            throw new ArgumentException($"sources and targets must have the same number of rows. Received: {sources.Count} sources, {targets.Count} targets", nameof(targets));
        if (sources.Count == 0) throw new ArgumentException("A batch needs at least one row. Received: 0 rows", nameof(sources));
        int n = sources.Count;
        for (int i = 0; i < n; i++) ValidateTarget(arch, targetColumn, firstRow + i, targets[i]);
        var (source, sourceLengths) = CollateSources(arch.Input, sources, 0, n, firstRow, sourceColumn);

        var offsets = new long[n + 1];
        for (int i = 0; i < n; i++) offsets[i + 1] = offsets[i] + targets[i].Length;
        var classes = new float[offsets[n]];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < targets[i].Length; t++) classes[offsets[i] + t] = targets[i][t] - 1;
        var dev = device ?? CPU;
        var target = TargetTensor(classes, offsets, arch.OutputClasses - 1).to(dev);
        return new Seq2SeqBatch
        {
            Source = source.to(dev), SourceLengths = sourceLengths,
            DecoderInput = DecoderInputFromTargets(arch, target), Target = target,
            Rows = n,
        };
    }

    /// <summary>
    /// The step targets of rows whose tokens are laid end to end as output indices (token id − 1; row i at
    /// offsets[i]..offsets[i+1]): [N, longest + 1] int64 — the tokens, the end token <paramref name="endIndex"/> (K), then
    /// <see cref="IgnoredTarget"/>.
    /// </summary>
    internal static Tensor TargetTensor(ReadOnlySpan<float> classes, ReadOnlySpan<long> offsets, int endIndex)
    {
        int n = offsets.Length - 1;
        long width = 1;
        for (int i = 0; i < n; i++) width = Math.Max(width, offsets[i + 1] - offsets[i] + 1);
        var target = new long[n * width];
        Array.Fill(target, IgnoredTarget);
        for (int i = 0; i < n; i++)
        {
            long length = offsets[i + 1] - offsets[i];
            for (long t = 0; t < length; t++) target[i * width + t] = (long)classes[(int)(offsets[i] + t)];
            target[i * width + length] = endIndex;
        }
        return tensor(target, new long[] { n, width });
    }

    /// <summary>
    /// The decoder's inputs for step targets [B, L] (<see cref="TargetTensor"/>'s layout, possibly wider than the batch
    /// needs): [B, T] int64 with T = the longest row's tokens + 1 — the start id, then each target token's id (index + 1),
    /// 0 after a row's last token. Tensor operations only (no copy through managed memory).
    /// </summary>
    internal static Tensor DecoderInputFromTargets(Seq2SeqArchitecture arch, Tensor target)
    {
        using var scope = NewDisposeScope();
        long steps = target.ne(IgnoredTarget).sum(1).max().item<long>();                       // tokens + end of the longest row
        var previous = target.narrow(1, 0, steps - 1);                                         // [B, T-1]
        var isToken = previous.ge(0).logical_and(previous.lt(arch.OutputClasses - 1));
        var ids = where(isToken, previous + 1, zeros_like(previous));                          // [B, T-1]
        var start = full(new long[] { target.shape[0], 1 }, arch.StartId, ScalarType.Int64, device: target.device);
        return cat(new[] { start, ids }, 1).MoveToOuterDisposeScope();                         // [B, T]
    }

    /// <summary>Validates rows [offset, offset + count) of <paramref name="sources"/> against the layout and collates them into (values, lengths).</summary>
    internal static (Tensor Values, Tensor? Lengths) CollateSources(FeatureLayout layout, IReadOnlyList<float[]> sources, int offset, int count, long firstRow, string column)
    {
        var lengths = new int[count];
        int total = 0;
        for (int i = 0; i < count; i++)
        {
            layout.ValidateRow(column, firstRow + i, sources[offset + i]);
            lengths[i] = sources[offset + i].Length;
            total += lengths[i];
        }
        var values = new float[total];
        for (int i = 0, at = 0; i < count; at += lengths[i], i++) sources[offset + i].CopyTo(values, at);
        return layout.Collate(values, lengths);
    }

    /// <summary>
    /// Refuses a target that can't be learned: empty, an id outside 1..K (0 is a missing key: a value the target's
    /// MapValueToKey did not see), or longer than MaxOutputLength (no room left for the end token).
    /// </summary>
    public static void ValidateTarget(Seq2SeqArchitecture arch, string column, long row, ReadOnlySpan<int> target) =>
        ValidateTarget(arch.TargetVocabularySize ?? throw new InvalidOperationException("Seq2SeqArchitecture.TargetVocabularySize is not set."),
            arch.MaxOutputLength, column, row, target);

    /// <summary>As <see cref="ValidateTarget(Seq2SeqArchitecture, string, long, ReadOnlySpan{int})"/> for <paramref name="k"/> target keys and a longest output of <paramref name="maxOutputLength"/> tokens.</summary>
    internal static void ValidateTarget(int k, int maxOutputLength, string column, long row, ReadOnlySpan<int> target)
    {
        if (target.Length == 0)
            throw new InvalidDataException(
                $"Target column '{column}', row {row}: the target sequence is empty. A sequence-to-sequence model needs at least one target token " +
                "(the end token is added internally). Filter such rows before training (e.g. drop empty target strings before tokenizing).");
        for (int t = 0; t < target.Length; t++)
            if (target[t] < 1 || target[t] > k)
                throw new InvalidDataException(
                    $"Target column '{column}', row {row}, step {t}: target id {target[t]} is outside the target keys 1..{k}" +
                    (target[t] == 0 ? " (0 is a missing key: a value the target's MapValueToKey did not see)" : "") +
                    ". Use one fitted MapValueToKey for the target in training and evaluation, or raise TargetVocabularySize.");
        if (target.Length > maxOutputLength)
            throw new InvalidDataException(
                $"Target column '{column}', row {row}: the target has {target.Length} tokens, more than MaxOutputLength={maxOutputLength}, " +
                $"so the decoder could never produce it and its end token. Raise MaxOutputLength to at least {target.Length}, or drop such rows.");
    }

    /// <summary>Masked cross-entropy: the mean over every real step's target (padding excluded). logits [B, T, K+1].</summary>
    public Tensor Loss(Tensor logits, double labelSmoothing = 0)
    {
        long classes = logits.shape[2];
        return nn.functional.cross_entropy(logits.reshape(-1, classes), Target.reshape(-1),
            ignore_index: IgnoredTarget, label_smoothing: labelSmoothing);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Source.Dispose(); SourceLengths?.Dispose(); DecoderInput.Dispose(); Target.Dispose();
    }
}
