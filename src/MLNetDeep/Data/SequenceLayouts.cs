using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>What happens to a sequence longer than the layout's <c>MaxLength</c>.</summary>
public enum SequenceTruncation
{
    /// <summary>Keep the last MaxLength steps (drop the start). Keras' <c>pad_sequences</c> default; the recent past usually matters most.</summary>
    KeepEnd,
    /// <summary>Keep the first MaxLength steps (drop the end).</summary>
    KeepStart,
    /// <summary>Refuse the row with an error that names the column, the row, its length and the limit.</summary>
    Error,
}

/// <summary>What happens to token id 0 inside a sequence (ML.NET's missing key: a word <c>MapValueToKey</c> never saw).</summary>
public enum UnknownTokenHandling
{
    /// <summary>The step is kept and embedded as the all-zero padding vector, which is never learned. Default.</summary>
    ZeroVector,
    /// <summary>Refuse the row with an error naming the column, row and position.</summary>
    Error,
}

/// <summary>Layouts whose rows are sequences of steps (used by the engine to check per-step labels).</summary>
internal interface ISequenceLayout
{
    /// <summary>Steps the network sees for a row of <paramref name="valueCount"/> values (after truncation).</summary>
    int Steps(int valueCount);
}

/// <summary>
/// Base of the sequence layouts: a row is a sequence of steps laid end to end in one vector column (fixed or
/// variable size). A batch of rows becomes a [B, T, ...] tensor padded to its longest row plus a [B] tensor of
/// step counts (null when every row of the batch has the same length, so fixed-length data costs no packing).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(NumericSequenceLayout), "numeric_sequence")]
[JsonDerivedType(typeof(TokenSequenceLayout), "token_sequence")]
public abstract class SequenceLayout : FeatureLayout, ISequenceLayout
{
    /// <summary>Longest sequence the network sees (null = no limit). Longer rows are cut by <see cref="Truncation"/>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>What to do with rows longer than <see cref="MaxLength"/>. Default <see cref="SequenceTruncation.KeepEnd"/>.</summary>
    public SequenceTruncation Truncation { get; init; } = SequenceTruncation.KeepEnd;

    /// <summary>Values per step (1 for tokens).</summary>
    [JsonIgnore] public abstract int ValuesPerStep { get; }

    /// <inheritdoc />
    [JsonIgnore] public override bool IsFixedSize => false;

    /// <summary>Steps in a row of <paramref name="valueCount"/> values, before truncation.</summary>
    public int RawSteps(int valueCount) => valueCount / ValuesPerStep;

    /// <inheritdoc />
    public int Steps(int valueCount)
    {
        int steps = RawSteps(valueCount);
        return MaxLength is int max && steps > max ? max : steps;
    }

    /// <inheritdoc />
    public override long[] BatchShape(long rows) => new[] { rows, -1L };

    internal void ValidateOptions(string owner)
    {
        if (MaxLength is int m && m <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxLength), m, $"{owner}.MaxLength must be > 0 or null (no limit). Received: MaxLength={m}");
        if (!Enum.IsDefined(Truncation))
            throw new ArgumentOutOfRangeException(nameof(Truncation), Truncation, $"{owner}.Truncation is not a known value. Received: Truncation={Truncation}");
    }

    /// <summary>Checks the length rules shared by both layouts: not empty, and not over MaxLength when truncation is refused.</summary>
    protected void ValidateLength(string columnName, long row, int valueCount)
    {
        if (valueCount == 0)
            throw new InvalidDataException(
                $"Feature column '{columnName}', row {row}: the sequence is empty (0 steps); a recurrent network needs at least one step. " +
                "Filter such rows before training and scoring (e.g. mlContext.Data.FilterRowsByCustomPredicate on the text, " +
                "or drop empty strings before tokenizing).");
        int steps = RawSteps(valueCount);
        if (MaxLength is int max && steps > max && Truncation == SequenceTruncation.Error)
            throw new InvalidDataException(
                $"Feature column '{columnName}', row {row}: the sequence has {steps} steps, more than MaxLength={max}, and Truncation=Error. " +
                "Raise MaxLength, set Truncation to KeepEnd or KeepStart, or shorten the rows before the trainer.");
    }

    /// <summary>Where each row's kept steps start (in steps) and how many are kept; the batch's longest kept row.</summary>
    protected (int[] Start, int[] Kept, int MaxKept, bool AllEqual) Plan(ReadOnlySpan<int> rowLengths)
    {
        int n = rowLengths.Length;
        var start = new int[n];
        var kept = new int[n];
        int maxKept = 0;
        bool allEqual = true;
        for (int i = 0; i < n; i++)
        {
            int steps = RawSteps(rowLengths[i]);
            int k = Steps(rowLengths[i]);
            kept[i] = k;
            start[i] = Truncation == SequenceTruncation.KeepStart ? 0 : steps - k;
            if (i > 0 && k != kept[0]) allEqual = false;
            maxKept = Math.Max(maxKept, k);
        }
        return (start, kept, maxKept, allEqual);
    }

    /// <summary>The [B] int64 step counts, or null when every row of the batch has the same count.</summary>
    protected static Tensor? LengthsTensor(int[] kept, bool allEqual) =>
        allEqual ? null : tensor(kept.Select(k => (long)k).ToArray());
}

/// <summary>
/// A numeric sequence: each row is T steps × <see cref="FeaturesPerStep"/> values laid end to end (step-major),
/// e.g. a Fashion-MNIST image read row by row is 28 steps of 28 pixels. Fixed-size or variable-size vector
/// columns are accepted; a row's length must be a multiple of FeaturesPerStep. A batch is [B, T, F] floats.
/// </summary>
public sealed class NumericSequenceLayout : SequenceLayout
{
    /// <summary>Values per step (F). Required, &gt; 0.</summary>
    public int FeaturesPerStep { get; init; } = 1;

    /// <inheritdoc />
    [JsonIgnore] public override int ValuesPerStep => FeaturesPerStep;

    /// <summary>
    /// [T, F] for a known-size column of T whole steps that needs no truncation: the data set is then kept as one dense
    /// [N, T, F] tensor and batched by index (no per-batch copies, no packing). Null for variable-size columns.
    /// </summary>
    public override long[]? DenseRowShape(DataViewType type)
    {
        if (type is not VectorDataViewType { IsKnownSize: true } vt || vt.Size % FeaturesPerStep != 0) return null;
        int steps = vt.Size / FeaturesPerStep;
        return steps > 0 && (MaxLength is null || steps <= MaxLength) ? new long[] { steps, FeaturesPerStep } : null;
    }

    /// <inheritdoc />
    public override void ValidateColumn(string columnName, DataViewType type)
    {
        FeatureColumnReader.CheckNumericVector(columnName, type);
        var vt = (VectorDataViewType)type;
        if (vt.ItemType is KeyDataViewType)
            throw new ArgumentException(
                $"Feature column '{columnName}' holds keys (token ids, {vt.ItemType}), but the sequence input is numeric " +
                $"(FeaturesPerStep={FeaturesPerStep}). For token sequences set Input = new TokenSequence(embeddingSize) so the ids go through an embedding.",
                columnName);
        if (vt.IsKnownSize && vt.Size % FeaturesPerStep != 0)
            throw new ArgumentException(
                $"Feature column '{columnName}' has {vt.Size} values per row, which is not a multiple of FeaturesPerStep={FeaturesPerStep} " +
                $"({vt.Size} / {FeaturesPerStep} leaves {vt.Size % FeaturesPerStep}). Set FeaturesPerStep to the number of values in one step " +
                "(the column must hold steps x FeaturesPerStep values, step by step).", columnName);
    }

    /// <inheritdoc />
    public override void ValidateRow(string columnName, long row, ReadOnlySpan<float> values)
    {
        if (values.Length % FeaturesPerStep != 0)
            throw new InvalidDataException(
                $"Feature column '{columnName}', row {row}: {values.Length} values is not a multiple of FeaturesPerStep={FeaturesPerStep}. " +
                "Each row must hold whole steps (steps x FeaturesPerStep values); fix FeaturesPerStep or the rows.");
        ValidateLength(columnName, row, values.Length);
        FeatureColumnReader.CheckFinite(columnName, row, values);
    }

    /// <inheritdoc />
    public override (Tensor Values, Tensor? Lengths) Collate(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths)
    {
        int f = FeaturesPerStep, n = rowLengths.Length;
        var (start, kept, maxKept, allEqual) = Plan(rowLengths);
        // Rows are copied straight into the tensor's memory (no managed batch-sized buffer, so no large-object-heap churn).
        var batch = allEqual ? empty(n, maxKept, f) : zeros(n, maxKept, f);
        var target = NativeBuffers.Floats(batch);
        int at = 0;
        for (int i = 0; i < n; i++)
        {
            values.Slice(at + start[i] * f, kept[i] * f).CopyTo(target.Slice(i * maxKept * f));
            at += rowLengths[i];
        }
        return (batch, LengthsTensor(kept, allEqual));
    }
}

/// <summary>
/// A token sequence: each row is a variable-length vector of token ids, a key column (from
/// <c>TokenizeIntoWords</c> + <c>MapValueToKey</c>, or <c>TokenizeIntoCharactersAsKeys</c>) or a UInt32 column.
/// Id 0 is the padding index (and ML.NET's missing key, i.e. an unknown word): it embeds as the zero vector,
/// which is never learned. A batch is [B, T] int64 ids.
/// </summary>
public sealed class TokenSequenceLayout : SequenceLayout
{
    /// <summary>
    /// Largest token id (a key column's key count). Null = taken from the training column's key type when
    /// training starts (required for plain UInt32 columns). Ids above it are refused.
    /// </summary>
    public int? VocabularySize { get; init; }

    /// <summary>The key count of the column the vocabulary was taken from; scoring columns must have the same count.</summary>
    public int? KeyCount { get; init; }

    /// <summary>How id 0 (unknown / missing key) inside a sequence is treated. Default <see cref="UnknownTokenHandling.ZeroVector"/>.</summary>
    public UnknownTokenHandling UnknownTokens { get; init; } = UnknownTokenHandling.ZeroVector;

    /// <inheritdoc />
    [JsonIgnore] public override int ValuesPerStep => 1;

    /// <summary>Rows of the embedding table: ids 0 (padding) to VocabularySize.</summary>
    internal int EmbeddingRows => (VocabularySize ?? throw new InvalidOperationException("The token vocabulary size is not known yet.")) + 1;

    /// <inheritdoc />
    public override void ValidateColumn(string columnName, DataViewType type)
    {
        var item = FeatureColumnReader.ItemType(type);
        bool ids = item is KeyDataViewType ? item.RawType == typeof(uint) || item.RawType == typeof(ushort) || item.RawType == typeof(byte)
                                           : item.RawType == typeof(uint);
        if (type is not VectorDataViewType || !ids)
            throw new ArgumentException(
                $"Feature column '{columnName}' has type {type}; a token sequence needs a vector of keys (token ids). " +
                $"Build it with mlContext.Transforms.Text.TokenizeIntoWords(\"{columnName}\", \"Text\") followed by " +
                $"mlContext.Transforms.Conversion.MapValueToKey(\"{columnName}\"), or TokenizeIntoCharactersAsKeys. " +
                "For numeric sequences use Input = new NumericSequence(featuresPerStep).", columnName);
        if (item is KeyDataViewType key)
        {
            if (key.Count == 0 || key.Count > (1 << 24))
                throw new ArgumentException(
                    $"Feature column '{columnName}' is a key type with {key.Count} values; token ids need a known count of at most {1 << 24}. " +
                    "Use MapValueToKey (it gives a known count) and cap the vocabulary with maximumNumberOfKeys.", columnName);
            int count = (int)key.Count;
            if (VocabularySize is null) return; // the training column fixes the vocabulary (ForTrainingColumn)
            if (KeyCount is int trained && trained != count)
                throw new ArgumentException(
                    $"Feature column '{columnName}' has {count} token keys, but the model was trained on a vocabulary of {trained} keys, so the ids " +
                    "would mean different words. Apply the same fitted MapValueToKey transformer (the one used in training) to this data " +
                    "instead of fitting a new one.", columnName);
            else if (count > VocabularySize)
                throw new ArgumentException(
                    $"Feature column '{columnName}' has {count} token keys, more than VocabularySize={VocabularySize}. " +
                    $"Raise VocabularySize to at least {count}, or leave it null to take it from the key type.", columnName);
        }
        else if (VocabularySize is null)
            throw new ArgumentException(
                $"Feature column '{columnName}' holds UInt32 token ids without a key type, so the vocabulary size is unknown. " +
                "Set TokenSequence.VocabularySize to the largest id (id 0 is reserved for padding/unknown), or convert the ids to a key type " +
                "with MapValueToKey.", columnName);
    }

    /// <summary>A key column with no vocabulary size set gives the layout one: its key count (saved with the model).</summary>
    public override FeatureLayout ForTrainingColumn(string columnName, DataViewType type)
    {
        ValidateColumn(columnName, type);
        if (VocabularySize is not null || FeatureColumnReader.ItemType(type) is not KeyDataViewType key) return this;
        return new TokenSequenceLayout
        {
            MaxLength = MaxLength, Truncation = Truncation, UnknownTokens = UnknownTokens,
            VocabularySize = (int)key.Count, KeyCount = (int)key.Count,
        };
    }

    /// <inheritdoc />
    public override void ValidateRow(string columnName, long row, ReadOnlySpan<float> values)
    {
        ValidateLength(columnName, row, values.Length);
        int vocab = VocabularySize ?? int.MaxValue;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (v > vocab || v < 0 || v != MathF.Floor(v))
                throw new InvalidDataException(
                    $"Feature column '{columnName}', row {row}, step {i}: token id {v.ToString(CultureInfo.InvariantCulture)} is outside the vocabulary " +
                    $"(ids 1..{vocab}, 0 = padding/unknown). Use the same fitted MapValueToKey as in training, or raise VocabularySize.");
            if (v == 0 && UnknownTokens == UnknownTokenHandling.Error)
                throw new InvalidDataException(
                    $"Feature column '{columnName}', row {row}, step {i}: unknown token (key 0: a value MapValueToKey did not see in training) " +
                    "and UnknownTokens=Error. Set UnknownTokens = UnknownTokenHandling.ZeroVector to embed unknown tokens as zeros, " +
                    "or fit the key mapping on data that covers the vocabulary.");
        }
    }

    /// <inheritdoc />
    public override (Tensor Values, Tensor? Lengths) Collate(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths)
    {
        int n = rowLengths.Length;
        var (start, kept, maxKept, allEqual) = Plan(rowLengths);
        var batch = zeros(new long[] { n, maxKept }, ScalarType.Int64);
        var buffer = NativeBuffers.Longs(batch);
        int at = 0;
        for (int i = 0; i < n; i++)
        {
            var src = values.Slice(at + start[i], kept[i]);
            var dst = buffer.Slice(i * maxKept, kept[i]);
            for (int j = 0; j < src.Length; j++) dst[j] = (long)src[j];
            at += rowLengths[i];
        }
        return (batch, LengthsTensor(kept, allEqual));
    }
}
