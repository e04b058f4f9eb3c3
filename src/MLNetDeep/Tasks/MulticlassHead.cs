using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

using MLNetDeep.Training;

namespace MLNetDeep.Tasks;

/// <summary>Multiclass classification: key label, softmax cross-entropy, Score = class probabilities, PredictedLabel = key.</summary>
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
        // Non-text key values (e.g. numbers): keep their text form; other types keep the key index.
        var raw = itemType.RawType;
        string[] texts =
            raw == typeof(float) ? ValuesAsText<float>(column) : raw == typeof(double) ? ValuesAsText<double>(column)
            : raw == typeof(int) ? ValuesAsText<int>(column) : raw == typeof(uint) ? ValuesAsText<uint>(column)
            : raw == typeof(long) ? ValuesAsText<long>(column) : raw == typeof(ulong) ? ValuesAsText<ulong>(column)
            : raw == typeof(short) ? ValuesAsText<short>(column) : raw == typeof(ushort) ? ValuesAsText<ushort>(column)
            : raw == typeof(byte) ? ValuesAsText<byte>(column) : raw == typeof(sbyte) ? ValuesAsText<sbyte>(column)
            : raw == typeof(bool) ? ValuesAsText<bool>(column) : raw == typeof(DateTime) ? ValuesAsText<DateTime>(column)
            : names;
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

    protected override Tensor SmoothedLoss(Tensor output, Tensor labels, double epsilon) =>
        F.cross_entropy(output, labels, reduction: nn.Reduction.None, label_smoothing: epsilon);

    public override IReadOnlyList<MetricInfo> MetricInfos { get; } = new[] { new MetricInfo("accuracy", HigherIsBetter: true) };

    public override int OutputSize(HeadSpec spec) => spec.ClassNames.Length;

    public override IReadOnlyList<OutputColumn> OutputColumns { get; } = new[] { OutputColumn.Score, OutputColumn.PredictedLabel };

    internal override bool IsVectorPerRow(OutputColumn column) => column == OutputColumn.Score;

    /// <summary>Softmax probabilities [N, K] (single row: [K]) and the most probable class's name.</summary>
    internal override void EmitOnnx(Onnx.OnnxHeadWriter w)
    {
        var g = w.G;
        int k = w.Spec.ClassNames.Length;
        var probs = w.Batch
            ? g.Node("Softmax", new[] { w.Raw }, new[] { Onnx.OnnxNames.Score }, Onnx.OnnxGraphBuilder.Int("axis", 1))[0]
            : g.Node("Softmax", new[] { w.Raw }, "probabilities", Onnx.OnnxGraphBuilder.Int("axis", 1));
        if (!w.Batch) g.Node("Reshape", new[] { probs, g.Int64Constant("shape_classes", new long[] { k }, 1) }, new[] { Onnx.OnnxNames.Score });
        var index = g.Node("ArgMax", new[] { probs }, "predicted_index", Onnx.OnnxGraphBuilder.Int("axis", 1), Onnx.OnnxGraphBuilder.Int("keepdims", 0));
        var classes = g.StringConstant("class_names", w.Spec.ClassNames, k);
        g.Node("Gather", new[] { classes, index }, new[] { w.Name(OutputColumn.PredictedLabel) }, Onnx.OnnxGraphBuilder.Int("axis", 0));
        w.Output(Onnx.OnnxNames.Score, Onnx.Proto.OnnxDataType.Float, w.Batch ? new List<object> { w.N, (long)k } : new List<object> { (long)k },
            "Class probabilities (softmax), in the order of the metadata's class names.");
        w.Output(w.Name(OutputColumn.PredictedLabel), Onnx.Proto.OnnxDataType.String, w.RowShape, "Name of the most probable class.");
    }

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
        builder.AddColumn(spec.Columns.Score, new VectorDataViewType(NumberDataViewType.Single, k), slotAnn.ToAnnotations());
        var keyAnn = new DataViewSchema.Annotations.Builder();
        keyAnn.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, k), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        builder.AddColumn(spec.Columns.PredictedLabel, new KeyDataViewType(typeof(uint), k), keyAnn.ToAnnotations());
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names)
    {
        var slotNames = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, slotNames);
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyValues);
    }

    public override Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        OutputColumn.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
        {
            var row = currentRow().Span;
            var editor = VBufferEditor.Create(ref dst, row.Length);
            row.CopyTo(editor.Values);
            dst = editor.Commit();
        }),
        OutputColumn.PredictedLabel => (ValueGetter<uint>)((ref uint dst) =>
        {
            var row = currentRow().Span;
            int best = 0;
            for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
            dst = (uint)best + 1;
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };
}
