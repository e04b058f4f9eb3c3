using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.Training;

/// <summary>Reads one row's per-step labels (class indices as floats); valid until the next call.</summary>
internal delegate ReadOnlySpan<float> StepLabelReader(long row);

/// <summary>
/// Task-specific pieces of training and scoring: reading and checking labels, the loss, validation
/// metrics, and the output columns (names and types follow ML.NET's conventions so Evaluate,
/// CrossValidate, PredictionEngine and MapKeyToValue work unchanged).
/// </summary>
internal abstract class TaskHead
{
    public abstract PredictionKind Kind { get; }

    public static TaskHead For(PredictionKind kind) => kind switch
    {
        PredictionKind.MulticlassClassification => new MulticlassHead(),
        PredictionKind.BinaryClassification => new BinaryHead(),
        PredictionKind.Regression => new RegressionHead(),
        PredictionKind.SequenceTagging => new SequenceTaggingHead(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Checks the label column's type; returns the class names (multiclass) or empty.</summary>
    public abstract string[] CheckLabelColumn(DataViewSchema.Column column);

    /// <summary>A reader of one row's label as float (class index for multiclass); throws on missing values.</summary>
    public abstract Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column);

    /// <summary>Checks the label values as a whole and derives the saved spec (e.g. label scaling).</summary>
    public abstract HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels);

    /// <summary>Labels as the loss wants them (long class indices, or standardised floats).</summary>
    public abstract Tensor LabelTensor(HeadSpec spec, float[] labels);

    /// <summary>Per-example loss (no reduction).</summary>
    public abstract Tensor Loss(Tensor output, Tensor labels);

    /// <summary>Validation metrics from outputs and labels (both over the whole validation set).</summary>
    public abstract Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels);

    /// <summary>Maps raw network output [B, outputs] to what the output columns hold.</summary>
    public abstract Tensor Postprocess(HeadSpec spec, Tensor output);

    /// <summary>The output columns (name, type, annotations).</summary>
    public abstract void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder);

    /// <summary>The output columns as ML.NET SchemaShape columns, for estimator schema propagation.</summary>
    public abstract IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column? labelColumn);

    /// <summary>A getter for an output column that reads the current row's postprocessed outputs.</summary>
    public abstract Delegate MakeGetter(HeadSpec spec, string column, Func<ReadOnlyMemory<float>> currentRow);

    /// <summary>True when the label column holds one label per sequence step (tagging); labels are then read with <see cref="StepLabels"/>.</summary>
    public virtual bool PerStepLabels => false;

    /// <summary>Per-step heads: a reader of one row's step labels (class indices); throws on missing values.</summary>
    public virtual StepLabelReader StepLabels(DataViewRow row, DataViewSchema.Column column) =>
        throw new NotSupportedException($"{Kind} reads one label per row.");

    /// <summary>Per-step heads: labels of all rows (laid end to end, row i at offsets[i]..offsets[i+1]) as the loss wants them.</summary>
    public virtual Tensor StepLabelTensor(HeadSpec spec, float[] labels, long[] offsets) =>
        throw new NotSupportedException($"{Kind} reads one label per row.");

    /// <summary>Output values the scoring columns hold for a row of <paramref name="featureLength"/> feature values.</summary>
    public virtual int RowOutputSize(HeadSpec spec, Data.FeatureLayout layout, int featureLength) => spec.OutputSize;

    /// <summary>Maps raw output to the rows' output values laid end to end (<see cref="RowOutputSize"/> per row); lengths = per-row steps or null.</summary>
    public virtual Tensor Postprocess(HeadSpec spec, Tensor output, Tensor? lengths) => Postprocess(spec, output);

    /// <summary>Weighted mean of per-example losses.</summary>
    public static Tensor Reduce(Tensor perExample, Tensor? weights) =>
        weights is null ? perExample.mean() : (perExample * weights).sum() / weights.sum().clamp_min(1e-12);

    protected static Exception LabelTypeError(DataViewSchema.Column column, string need, string fix) => new ArgumentException(
        $"Label column '{column.Name}' has type {column.Type}; {need}. {fix}", column.Name);
}

internal sealed class MulticlassHead : TaskHead
{
    public override PredictionKind Kind => PredictionKind.MulticlassClassification;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not KeyDataViewType key)
            throw LabelTypeError(column, "multiclass trainers need a key-typed label",
                $"Add mlContext.Transforms.Conversion.MapValueToKey(\"{column.Name}\") before the trainer.");
        if (key.Count == 0 || key.Count > 100_000)
            throw LabelTypeError(column, $"the key has {key.Count} values", "Use a key type with a known count (MapValueToKey gives one).");
        return ClassNames(column, (int)key.Count);
    }

    internal static string[] ClassNames(DataViewSchema.Column column, int count)
    {
        var names = Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var kv = column.Annotations.Schema.GetColumnOrNull(ColumnNames.KeyValues);
        if (kv is null) return names;
        var itemType = Data.FeatureColumnReader.ItemType(kv.Value.Type);
        if (itemType is TextDataViewType)
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            column.Annotations.GetValue(ColumnNames.KeyValues, ref values);
            var dense = values.DenseValues().ToArray();
            for (int i = 0; i < Math.Min(count, dense.Length); i++) names[i] = dense[i].ToString();
            return names;
        }
        // Non-text key values (e.g. numbers): keep their text form.
        var method = typeof(MulticlassHead).GetMethod(nameof(ValuesAsText), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(itemType.RawType);
        var texts = (string[])method.Invoke(null, new object[] { column })!;
        for (int i = 0; i < Math.Min(count, texts.Length); i++) names[i] = texts[i];
        return names;
    }

    private static string[] ValuesAsText<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.Annotations.GetValue(ColumnNames.KeyValues, ref values);
        return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<uint>(column);
        uint value = 0;
        return r =>
        {
            getter(ref value);
            if (value == 0)
                throw new InvalidDataException($"Label column '{column.Name}', row {r}: the label is missing (key value 0). " +
                                               "Filter rows with missing labels (mlContext.Data.FilterRowsByMissingValues) or fix the data.");
            return value - 1;
        };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        var seen = new HashSet<float>();
        foreach (var l in labels) { seen.Add(l); if (seen.Count > 1) break; }
        if (seen.Count < 2)
            throw new InvalidDataException(
                $"Label column '{labelColumn}' holds a single class ('{classNames[(int)labels[0]]}') in all {labels.Length} training rows; " +
                "a classifier needs at least two. Check the data split or filter.");
        return new HeadSpec { Kind = Kind, ClassNames = classNames };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) => tensor(labels).to(ScalarType.Int64);

    public override Tensor Loss(Tensor output, Tensor labels) => F.cross_entropy(output, labels, reduction: nn.Reduction.None);

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels) => new()
    {
        ["accuracy"] = output.argmax(1).eq(labels).to(ScalarType.Float64).mean().item<double>(),
    };

    public override Tensor Postprocess(HeadSpec spec, Tensor output) => F.softmax(output, 1);

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder)
    {
        int k = spec.ClassNames.Length;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, spec.ClassNames.Select(n => n.AsMemory()).ToArray());
        var slotAnn = new DataViewSchema.Annotations.Builder();
        slotAnn.Add(ColumnNames.SlotNames, new VectorDataViewType(TextDataViewType.Instance, k), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        builder.AddColumn(ColumnNames.Score, new VectorDataViewType(NumberDataViewType.Single, k), slotAnn.ToAnnotations());
        var keyAnn = new DataViewSchema.Annotations.Builder();
        keyAnn.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, k), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        builder.AddColumn(ColumnNames.PredictedLabel, new KeyDataViewType(typeof(uint), k), keyAnn.ToAnnotations());
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column? labelColumn)
    {
        var slotNames = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, slotNames);
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyValues);
    }

    public override Delegate MakeGetter(HeadSpec spec, string column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        ColumnNames.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
        {
            var row = currentRow().Span;
            var editor = VBufferEditor.Create(ref dst, row.Length);
            row.CopyTo(editor.Values);
            dst = editor.Commit();
        }),
        ColumnNames.PredictedLabel => (ValueGetter<uint>)((ref uint dst) =>
        {
            var row = currentRow().Span;
            int best = 0;
            for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
            dst = (uint)best + 1;
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}

internal sealed class BinaryHead : TaskHead
{
    public override PredictionKind Kind => PredictionKind.BinaryClassification;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not BooleanDataViewType)
            throw LabelTypeError(column, "binary trainers need a Boolean label",
                "Convert it before the trainer, e.g. mlContext.Transforms.CustomMapping or a Boolean property in your input class.");
        return new[] { "False", "True" };
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<bool>(column);
        bool value = false;
        return _ => { getter(ref value); return value ? 1f : 0f; };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        bool hasPos = false, hasNeg = false;
        foreach (var l in labels) { if (l > 0) hasPos = true; else hasNeg = true; }
        if (!hasPos || !hasNeg)
            throw new InvalidDataException(
                $"Label column '{labelColumn}' is {(hasPos ? "true" : "false")} in all {labels.Length} training rows; a binary classifier needs both classes.");
        return new HeadSpec { Kind = Kind };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) => tensor(labels);

    public override Tensor Loss(Tensor output, Tensor labels) =>
        F.binary_cross_entropy_with_logits(output.squeeze(1), labels, reduction: nn.Reduction.None);

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels) => new()
    {
        ["accuracy"] = output.squeeze(1).gt(0).to(ScalarType.Float32).eq(labels).to(ScalarType.Float64).mean().item<double>(),
    };

    public override Tensor Postprocess(HeadSpec spec, Tensor output) => output.alias();

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder)
    {
        builder.AddColumn(ColumnNames.Score, NumberDataViewType.Single);
        builder.AddColumn(ColumnNames.Probability, NumberDataViewType.Single);
        builder.AddColumn(ColumnNames.PredictedLabel, BooleanDataViewType.Instance);
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column? labelColumn)
    {
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.Probability, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false);
    }

    public override Delegate MakeGetter(HeadSpec spec, string column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        ColumnNames.Score => (ValueGetter<float>)((ref float dst) => dst = currentRow().Span[0]),
        ColumnNames.Probability => (ValueGetter<float>)((ref float dst) => dst = 1f / (1f + MathF.Exp(-currentRow().Span[0]))),
        ColumnNames.PredictedLabel => (ValueGetter<bool>)((ref bool dst) => dst = currentRow().Span[0] > 0),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}

internal sealed class RegressionHead : TaskHead
{
    public override PredictionKind Kind => PredictionKind.Regression;

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not NumberDataViewType || (column.Type.RawType != typeof(float) && column.Type.RawType != typeof(double)))
            throw LabelTypeError(column, "regression trainers need a Single label",
                $"Convert it with mlContext.Transforms.Conversion.ConvertType(\"{column.Name}\", outputKind: DataKind.Single).");
        return Array.Empty<string>();
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column)
    {
        Func<float> read;
        if (column.Type.RawType == typeof(double))
        {
            var g = row.GetGetter<double>(column);
            double d = 0;
            read = () => { g(ref d); return (float)d; };
        }
        else
        {
            var g = row.GetGetter<float>(column);
            float f = 0;
            read = () => { g(ref f); return f; };
        }
        return r =>
        {
            float v = read();
            if (!float.IsFinite(v))
                throw new InvalidDataException($"Label column '{column.Name}', row {r}: value {v} is not finite. " +
                                               "Filter rows with missing labels (mlContext.Data.FilterRowsByMissingValues) or fix the data.");
            return v;
        };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels)
    {
        double mean = 0, m2 = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double d = labels[i] - mean;
            mean += d / (i + 1);
            m2 += d * (labels[i] - mean);
        }
        double std = Math.Sqrt(m2 / Math.Max(1, labels.Length));
        // Standardising the target keeps the output layer's scale near 1 whatever the label's units.
        return new HeadSpec { Kind = Kind, LabelMean = mean, LabelScale = std > 1e-12 ? std : 1 };
    }

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) =>
        (tensor(labels).to(ScalarType.Float64).sub(spec.LabelMean).div(spec.LabelScale)).to(ScalarType.Float32);

    public override Tensor Loss(Tensor output, Tensor labels) => (output.squeeze(1) - labels).pow(2);

    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels)
    {
        using var err = (output.squeeze(1) - labels).to(ScalarType.Float64) * spec.LabelScale;
        return new()
        {
            ["rmse"] = err.pow(2).mean().sqrt().item<double>(),
            ["mae"] = err.abs().mean().item<double>(),
        };
    }

    public override Tensor Postprocess(HeadSpec spec, Tensor output) => output * spec.LabelScale + spec.LabelMean;

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder) =>
        builder.AddColumn(ColumnNames.Score, NumberDataViewType.Single);

    public override IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column? labelColumn)
    {
        yield return MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
    }

    public override Delegate MakeGetter(HeadSpec spec, string column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        ColumnNames.Score => (ValueGetter<float>)((ref float dst) => dst = currentRow().Span[0]),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}
