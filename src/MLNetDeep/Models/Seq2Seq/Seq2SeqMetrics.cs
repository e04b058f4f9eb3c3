using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// Corpus metrics of predicted token sequences against references (one or several per row; a row is judged against
/// its closest reference, as multi-reference G2P and MT scoring do).
/// </summary>
public sealed class Seq2SeqMetrics
{
    /// <summary>Rows scored.</summary>
    public int Rows { get; init; }
    /// <summary>Share of rows whose prediction equals a reference exactly (1 − word error rate in G2P terms).</summary>
    public double ExactMatch { get; init; }
    /// <summary>
    /// Σ Levenshtein distance (insertions, deletions, substitutions; to the closest reference) / Σ that reference's
    /// length, over the corpus: the phoneme error rate of G2P, the word error rate of speech recognition.
    /// </summary>
    public double TokenErrorRate { get; init; }
    /// <summary>Corpus BLEU (Papineni et al., 2002): geometric mean of the clipped 1–4-gram precisions × brevity penalty, in [0, 1]; no smoothing (0 when a precision is 0).</summary>
    public double Bleu { get; init; }
    /// <summary>The clipped n-gram precisions p₁..p₄ of <see cref="Bleu"/>.</summary>
    public IReadOnlyList<double> BleuPrecisions { get; init; } = Array.Empty<double>();
    /// <summary>BLEU's brevity penalty: 1 when the predictions are longer than the closest references, else exp(1 − r/c).</summary>
    public double BrevityPenalty { get; init; }

    /// <summary>Metrics with one reference per row.</summary>
    public static Seq2SeqMetrics Compute(IReadOnlyList<IReadOnlyList<int>> predictions, IReadOnlyList<IReadOnlyList<int>> references)
    {
        if (predictions.Count != references.Count)
            throw new ArgumentException($"predictions and references must have the same number of rows. Received: {predictions.Count} predictions, {references.Count} references", nameof(references));
        return Compute(predictions, references.Select(r => (IReadOnlyList<IReadOnlyList<int>>)new[] { r }).ToList());
    }

    /// <summary>Metrics with a set of acceptable references per row (e.g. every pronunciation of a word).</summary>
    public static Seq2SeqMetrics Compute(IReadOnlyList<IReadOnlyList<int>> predictions, IReadOnlyList<IReadOnlyList<IReadOnlyList<int>>> references, int maxOrder = 4)
    {
        if (predictions.Count != references.Count)
            throw new ArgumentException($"predictions and references must have the same number of rows. Received: {predictions.Count} predictions, {references.Count} reference sets", nameof(references));
        if (predictions.Count == 0) throw new ArgumentException("There is nothing to score. Received: 0 rows", nameof(predictions));
        if (maxOrder < 1) throw new ArgumentOutOfRangeException(nameof(maxOrder), maxOrder, $"maxOrder must be >= 1 (BLEU uses 4). Received: maxOrder={maxOrder}");
        int exact = 0;
        long distance = 0, referenceTokens = 0, hypothesisTokens = 0, closestTokens = 0;
        var matches = new long[maxOrder];
        var totals = new long[maxOrder];
        for (int i = 0; i < predictions.Count; i++)
        {
            var hyp = predictions[i].ToArray();
            var refs = references[i];
            if (refs.Count == 0) throw new ArgumentException($"Row {i} has no reference. Received: 0 references", nameof(references));
            int best = int.MaxValue, bestLength = 0;
            bool match = false;
            foreach (var r in refs)
            {
                var rr = r.ToArray();
                if (rr.Length == 0) throw new ArgumentException($"Row {i} has an empty reference; every reference needs at least one token.", nameof(references));
                int d = EditDistance(hyp, rr);
                if (d < best || (d == best && rr.Length < bestLength)) (best, bestLength) = (d, rr.Length);
                match |= d == 0;
            }
            if (match) exact++;
            distance += best;
            referenceTokens += bestLength;

            // BLEU: clipped n-gram matches, and the reference length closest to the hypothesis (ties: the shorter).
            hypothesisTokens += hyp.Length;
            closestTokens += refs.Select(r => r.Count).OrderBy(l => Math.Abs(l - hyp.Length)).ThenBy(l => l).First();
            for (int n = 1; n <= maxOrder; n++)
            {
                var counts = NGrams(hyp, n);
                var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var r in refs)
                    foreach (var (gram, c) in NGrams(r.ToArray(), n))
                        maxRef[gram] = Math.Max(maxRef.GetValueOrDefault(gram), c);
                foreach (var (gram, c) in counts) matches[n - 1] += Math.Min(c, maxRef.GetValueOrDefault(gram));
                totals[n - 1] += Math.Max(0, hyp.Length - n + 1);
            }
        }
        var precisions = Enumerable.Range(0, maxOrder).Select(n => totals[n] == 0 ? 0.0 : (double)matches[n] / totals[n]).ToArray();
        double bp = hypothesisTokens == 0 ? 0 : hypothesisTokens > closestTokens ? 1 : Math.Exp(1 - (double)closestTokens / hypothesisTokens);
        double bleu = precisions.Any(p => p == 0) ? 0 : bp * Math.Exp(precisions.Average(Math.Log));
        return new Seq2SeqMetrics
        {
            Rows = predictions.Count,
            ExactMatch = (double)exact / predictions.Count,
            TokenErrorRate = (double)distance / referenceTokens,
            Bleu = bleu,
            BleuPrecisions = precisions,
            BrevityPenalty = bp,
        };
    }

    /// <summary>Levenshtein distance: the fewest insertions, deletions and substitutions that turn <paramref name="a"/> into <paramref name="b"/>.</summary>
    public static int EditDistance(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) row[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    private static Dictionary<string, int> NGrams(int[] tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            var key = string.Join(",", tokens.AsSpan(i, n).ToArray());
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    /// <summary>
    /// Scores a scored IDataView: <paramref name="labelColumnName"/> and <paramref name="predictedColumnName"/> are
    /// variable-length key (or UInt32) vector columns of target ids; key 0 (missing) in a label is an error.
    /// </summary>
    public static Seq2SeqMetrics Evaluate(IDataView data, string labelColumnName = "Label", string predictedColumnName = "PredictedLabel")
    {
        var label = KeyVectorColumn(data.Schema, labelColumnName, "label");
        var predicted = KeyVectorColumn(data.Schema, predictedColumnName, "predicted");
        var predictions = new List<IReadOnlyList<int>>();
        var references = new List<IReadOnlyList<int>>();
        using var cursor = data.GetRowCursor(new[] { label, predicted });
        var getLabel = cursor.GetGetter<VBuffer<uint>>(label);
        var getPredicted = cursor.GetGetter<VBuffer<uint>>(predicted);
        VBuffer<uint> l = default, p = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref l);
            getPredicted(ref p);
            var reference = l.DenseValues().Select(v => (int)v).ToArray();
            if (reference.Length == 0 || reference.Contains(0))
                throw new InvalidDataException(
                    $"Label column '{labelColumnName}', row {row}: the reference is empty or holds a missing key (0). Received: [{string.Join(", ", reference)}]. " +
                    "Use the target's fitted MapValueToKey on the evaluation data, and drop rows with empty targets.");
            references.Add(reference);
            predictions.Add(p.DenseValues().Select(v => (int)v).ToArray());
            row++;
        }
        return Compute(predictions, references);
    }

    private static DataViewSchema.Column KeyVectorColumn(DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"The {role} column '{name}' is not in the data. Columns: {string.Join(", ", schema.Select(c => c.Name))}");
        if (column.Type is not VectorDataViewType { ItemType: KeyDataViewType or NumberDataViewType } vt || vt.ItemType.RawType != typeof(uint))
            throw new ArgumentException(
                $"The {role} column '{name}' must be a vector of keys (or UInt32 token ids), e.g. TokenizeIntoWords + MapValueToKey of the target text. Received: {column.Type}", name);
        return column;
    }
}
