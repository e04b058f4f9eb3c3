using Microsoft.ML;
using MLNetDeep.Tasks;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>The columns a training run reads and how their values are checked: the same for every data mode.</summary>
internal sealed record DataColumns(FeatureLayout Layout, string Feature, TaskHead Head, string Label, string? Weight)
{
    /// <summary>The columns to open a cursor on (features only when <paramref name="features"/>, labels only when <paramref name="labels"/>).</summary>
    public List<DataViewSchema.Column> Active(DataViewSchema schema, bool features, bool labels)
    {
        var active = new List<DataViewSchema.Column>();
        if (features) active.Add(schema[Feature]);
        if (labels)
        {
            active.Add(schema[Label]);
            if (Weight is not null) active.Add(schema[Weight]);
        }
        return active;
    }

    /// <summary>True when the feature column holds plain bytes (not keys) and rows have one fixed shape: kept as uint8.</summary>
    public bool StoresBytes(DataViewSchema schema) => HoldsBytes(schema[Feature].Type) && Layout.DenseRowShape(schema[Feature].Type) is not null;

    /// <summary>True for a column of plain Byte values (not keys): <see cref="DataOptions.ByteScaling"/> applies to it.</summary>
    public static bool HoldsBytes(Microsoft.ML.Data.DataViewType type) =>
        FeatureColumnReader.ItemType(type) is Microsoft.ML.Data.NumberDataViewType number && number.RawType == typeof(byte);
}

/// <summary>
/// Reads and checks every row's label (or per-step labels) and example weight from a cursor, and turns them into
/// tensors at the end. Labels are small next to features, so every data mode keeps them in memory.
/// </summary>
internal sealed class LabelColumns
{
    private readonly DataColumns _c;
    private readonly Func<long, float>? _label;
    private readonly StepLabelReader? _steps;
    private readonly ValueGetter<float>? _weight;
    private readonly List<float> _labels = new();
    private readonly List<long>? _offsets;
    private readonly List<float>? _weights;

    public LabelColumns(DataViewRow cursor, DataColumns columns)
    {
        _c = columns;
        var schema = cursor.Schema;
        var labelCol = schema[columns.Label];
        if (columns.Head.PerStepLabels)
        {
            _steps = columns.Head.StepLabels(cursor, labelCol);
            _offsets = new List<long> { 0 };
        }
        else _label = columns.Head.LabelReader(cursor, labelCol);
        if (columns.Weight is string w)
        {
            _weight = cursor.GetGetter<float>(schema[w]);
            _weights = new List<float>();
        }
    }

    /// <summary>Rows read so far.</summary>
    public long Rows { get; private set; }

    /// <summary>
    /// Reads the current row's labels and weight. <paramref name="featureValues"/> is the row's feature count when the
    /// features were read too (per-step labels are then checked against the steps), or −1.
    /// </summary>
    public void Read(long row, int featureValues)
    {
        if (_steps is not null)
        {
            var steps = _steps(row);
            if (featureValues >= 0 && _c.Head.StepLabelsAlignWithFeatures) // tagging: one label per step; seq2seq targets have their own length
            {
                int expected = _c.Layout is ISequenceLayout seq ? seq.Steps(featureValues) : featureValues;
                if (steps.Length != expected)
                    throw new InvalidDataException(
                        $"Label column '{_c.Label}', row {row}: {steps.Length} step labels, but feature column '{_c.Feature}' has {expected} steps. " +
                        "A tagging label needs exactly one label per step; tokenize the tags and the text the same way.");
            }
            foreach (var s in steps) _labels.Add(s);
            _offsets!.Add(_labels.Count);
        }
        else _labels.Add(_label!(row));
        if (_weight is not null)
        {
            float weight = 0;
            _weight(ref weight);
            if (!(weight >= 0) || float.IsInfinity(weight))
                throw new InvalidDataException($"Example-weight column '{_c.Weight}', row {row}: value {weight}; weights must be finite and >= 0.");
            _weights!.Add(weight);
        }
        Rows++;
    }

    /// <summary>
    /// The labels as the loss wants them, on <paramref name="device"/>; the spec is derived from them unless given
    /// (validation and warm starts reuse the training one). Throws for an empty set or weights that sum to 0.
    /// </summary>
    public LabelTable Finish(string role, HeadSpec? spec, string[] classNames, OutputColumnNames? columns, Device device)
    {
        if (Rows == 0)
            throw new InvalidDataException($"The {role} data has no rows. Check the file path, the loader's column definitions or an earlier filter.");
        if (_weights is not null && _weights.Sum() <= 0)
            throw new InvalidDataException($"Example-weight column '{_c.Weight}' sums to 0 over the {role} data; at least one weight must be > 0.");
        var raw = _labels.ToArray();
        var head = _c.Head;
        spec ??= head.Prepare(_c.Label, classNames, raw).WithColumns(columns ?? new OutputColumnNames());
        var offsets = _offsets?.ToArray();
        var labels = (offsets is null ? head.LabelTensor(spec, raw) : head.StepLabelTensor(spec, raw, offsets)).to(device);
        var weights = _weights is null ? null : tensor(_weights.ToArray()).to(device);
        return new LabelTable(spec, raw, offsets, labels, weights);
    }
}

/// <summary>Every row's labels (and weights) as tensors, with the raw values the loss setup reads (class counts, label scaling).</summary>
internal sealed class LabelTable : IDisposable
{
    public LabelTable(HeadSpec spec, float[] raw, long[]? offsets, Tensor labels, Tensor? weights)
    {
        Spec = spec; RawLabels = raw; Offsets = offsets; Labels = labels; Weights = weights;
    }

    public HeadSpec Spec { get; }
    /// <summary>One label per row, or (per-step heads) every row's step labels laid end to end.</summary>
    public float[] RawLabels { get; }
    /// <summary>Per-step heads: row i's labels are RawLabels[Offsets[i]..Offsets[i + 1]]; null otherwise.</summary>
    public long[]? Offsets { get; }
    public Tensor Labels { get; }
    public Tensor? Weights { get; }
    public long Count => Labels.shape[0];

    /// <summary>The labels and weights of rows <paramref name="indices"/>, or of rows start..start+length when null.</summary>
    public (Tensor Labels, Tensor? Weights) Take(Tensor? indices, long start, long length)
    {
        Tensor Pick(Tensor t) => indices is null ? t.narrow(0, start, length) : t.index_select(0, indices);
        return (Pick(Labels), Weights is null ? null : Pick(Weights));
    }

    /// <summary>The table of the given rows, in that order.</summary>
    public LabelTable Subset(long[] rows)
    {
        using var idx = tensor(rows, device: Labels.device);
        float[] raw;
        long[]? offsets = null;
        if (Offsets is null) raw = rows.Select(r => RawLabels[r]).ToArray();
        else
        {
            var steps = new List<float>();
            offsets = new long[rows.Length + 1];
            for (int i = 0; i < rows.Length; i++)
            {
                steps.AddRange(RawLabels.AsSpan((int)Offsets[rows[i]], (int)(Offsets[rows[i] + 1] - Offsets[rows[i]])).ToArray());
                offsets[i + 1] = steps.Count;
            }
            raw = steps.ToArray();
        }
        return new LabelTable(Spec, raw, offsets, Labels.index_select(0, idx), Weights?.index_select(0, idx));
    }

    public void Dispose()
    {
        Labels.Dispose();
        Weights?.Dispose();
    }
}
