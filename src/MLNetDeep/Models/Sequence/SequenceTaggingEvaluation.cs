using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Sequence;

/// <summary>Per-step quality of a sequence tagger on scored data. Only real steps count (there is no padding in the columns).</summary>
public sealed class SequenceTaggingMetrics
{
    /// <summary>Fraction of labelled steps whose predicted tag is right (micro accuracy over steps).</summary>
    public double StepAccuracy { get; init; }
    /// <summary>Mean over tags of the fraction of that tag's steps predicted right (macro recall; rare tags weigh as much as frequent ones).</summary>
    public double MacroStepAccuracy { get; init; }
    /// <summary>Fraction of sequences with every labelled step right.</summary>
    public double SequenceAccuracy { get; init; }
    /// <summary>Labelled steps counted (steps whose label is missing, key 0, are skipped).</summary>
    public long Steps { get; init; }
    /// <summary>Sequences counted.</summary>
    public long Sequences { get; init; }
    /// <summary>Per-tag recall by tag name (tags without labelled steps are left out).</summary>
    public IReadOnlyDictionary<string, double> PerTagAccuracy { get; init; } = new Dictionary<string, double>();

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant($"step accuracy {StepAccuracy:F4} (macro {MacroStepAccuracy:F4}), sequence accuracy {SequenceAccuracy:F4} over {Steps} steps in {Sequences} sequences");
}

/// <summary>The evaluation helper for sequence taggers.</summary>
public static class SequenceTaggingEvaluation
{
    /// <summary>
    /// Compares the per-step labels with the per-step predictions of a tagger's scored data
    /// (both key vectors with one key per step, in the same key space).
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.</param>
    /// <param name="data">Scored data (the tagger's Transform output).</param>
    /// <param name="labelColumnName">Key vector of the true tags.</param>
    /// <param name="predictedLabelColumnName">Key vector of the predicted tags.</param>
    public static SequenceTaggingMetrics EvaluateSequenceTagging(this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = "Label", string predictedLabelColumnName = ColumnNames.PredictedLabel)
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = KeyVectorColumn(data.Schema, labelColumnName, nameof(labelColumnName));
        var predicted = KeyVectorColumn(data.Schema, predictedLabelColumnName, nameof(predictedLabelColumnName));
        int classes = (int)((KeyDataViewType)((VectorDataViewType)label.Type).ItemType).Count;
        string[] names = MulticlassHead.ClassNames(label, classes);
        var hits = new long[classes];
        var totals = new long[classes];
        long steps = 0, correct = 0, sequences = 0, perfect = 0;
        using (var cursor = data.GetRowCursor(new[] { label, predicted }))
        {
            var getLabel = cursor.GetGetter<VBuffer<uint>>(label);
            var getPredicted = cursor.GetGetter<VBuffer<uint>>(predicted);
            VBuffer<uint> truth = default, guess = default;
            long row = 0;
            while (cursor.MoveNext())
            {
                getLabel(ref truth);
                getPredicted(ref guess);
                if (truth.Length != guess.Length)
                    throw new InvalidDataException(
                        $"Row {row}: '{labelColumnName}' has {truth.Length} steps but '{predictedLabelColumnName}' has {guess.Length}. " +
                        "The labels must be aligned with the sequence the tagger scored (one tag per token).");
                var t = truth.DenseValues().ToArray();
                var g = guess.DenseValues().ToArray();
                bool allRight = true;
                for (int i = 0; i < t.Length; i++)
                {
                    if (t[i] == 0) continue;
                    steps++;
                    int c = (int)t[i] - 1;
                    if (c < classes) totals[c]++;
                    if (t[i] == g[i]) { correct++; if (c < classes) hits[c]++; }
                    else allRight = false;
                }
                sequences++;
                if (allRight) perfect++;
                row++;
            }
        }
        var perTag = new Dictionary<string, double>();
        for (int c = 0; c < classes; c++) if (totals[c] > 0) perTag[names[c]] = (double)hits[c] / totals[c];
        return new SequenceTaggingMetrics
        {
            StepAccuracy = steps == 0 ? 0 : (double)correct / steps,
            MacroStepAccuracy = perTag.Count == 0 ? 0 : perTag.Values.Average(),
            SequenceAccuracy = sequences == 0 ? 0 : (double)perfect / sequences,
            Steps = steps,
            Sequences = sequences,
            PerTagAccuracy = perTag,
        };
    }

    private static DataViewSchema.Column KeyVectorColumn(DataViewSchema schema, string name, string option)
    {
        var col = schema.GetColumnOrNull(name)
                  ?? throw new ArgumentOutOfRangeException(option, name,
                      $"The data has no column '{name}' ({option}). Columns present: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");
        if (col.Type is not VectorDataViewType { ItemType: KeyDataViewType })
            throw new ArgumentException(
                $"Column '{name}' ({option}) has type {col.Type}; per-step evaluation needs a key vector (one key per step). " +
                "Evaluate before MapKeyToValue, on the tagger's PredictedLabel and the MapValueToKey'd tags.", option);
        return col;
    }
}
