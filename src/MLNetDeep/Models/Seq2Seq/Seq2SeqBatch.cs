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

        int steps = targets.Max(t => t.Length) + 1;
        var input = new long[n * steps];
        var target = new long[n * steps];
        Array.Fill(target, IgnoredTarget);
        int end = arch.OutputClasses - 1;
        for (int i = 0; i < n; i++)
        {
            var y = targets[i];
            input[i * steps] = arch.StartId;
            for (int t = 0; t < y.Length; t++)
            {
                if (t + 1 < steps) input[i * steps + t + 1] = y[t];
                target[i * steps + t] = y[t] - 1;
            }
            target[i * steps + y.Length] = end;
        }
        var dev = device ?? CPU;
        return new Seq2SeqBatch
        {
            Source = source.to(dev), SourceLengths = sourceLengths,
            DecoderInput = tensor(input, new long[] { n, steps }, device: dev),
            Target = tensor(target, new long[] { n, steps }, device: dev),
            Rows = n,
        };
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
    public static void ValidateTarget(Seq2SeqArchitecture arch, string column, long row, ReadOnlySpan<int> target)
    {
        int k = arch.TargetVocabularySize ?? throw new InvalidOperationException("Seq2SeqArchitecture.TargetVocabularySize is not set.");
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
        if (target.Length > arch.MaxOutputLength)
            throw new InvalidDataException(
                $"Target column '{column}', row {row}: the target has {target.Length} tokens, more than MaxOutputLength={arch.MaxOutputLength}, " +
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
