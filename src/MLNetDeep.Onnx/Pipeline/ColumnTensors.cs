using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Onnx.Proto;

namespace MLNetDeep.Onnx;

/// <summary>
/// How an ML.NET column travels through the pipeline graph, following ML.NET's own ONNX convention: every column is a
/// rank-2 tensor [rows, values] — a scalar is [rows, 1], a known-size vector [rows, size] (flattened), a variable-size
/// vector [rows, dynamic]; keys are their raw unsigned integers (1-based, 0 = missing), text is string.
/// </summary>
internal static class ColumnTensors
{
    /// <summary>The ONNX element type of a column's values; throws for types ONNX can't carry (images, dates, ...).</summary>
    public static OnnxDataType ElementType(DataViewType type, string column, string where) => TryElementType(type) ?? Unsupported(type, column, where);

    /// <summary>The ONNX element type of a column's values, or null for types ONNX can't carry.</summary>
    public static OnnxDataType? TryElementType(DataViewType type)
    {
        var item = type is VectorDataViewType v ? v.ItemType : type;
        if (item is KeyDataViewType key) return RawElementType(key.RawType);
        if (item is TextDataViewType) return OnnxDataType.String;
        if (item is BooleanDataViewType) return OnnxDataType.Bool;
        return RawElementType(item.RawType);
    }

    private static OnnxDataType? RawElementType(Type raw) =>
        raw == typeof(float) ? OnnxDataType.Float
        : raw == typeof(double) ? OnnxDataType.Double
        : raw == typeof(sbyte) ? OnnxDataType.Int8
        : raw == typeof(byte) ? OnnxDataType.UInt8
        : raw == typeof(short) ? OnnxDataType.Int16
        : raw == typeof(ushort) ? OnnxDataType.UInt16
        : raw == typeof(int) ? OnnxDataType.Int32
        : raw == typeof(uint) ? OnnxDataType.UInt32
        : raw == typeof(long) ? OnnxDataType.Int64
        : raw == typeof(ulong) ? OnnxDataType.UInt64
        : null;

    private static OnnxDataType Unsupported(DataViewType type, string column, string where) =>
        throw new PipelineOnnxException(
            $"Column '{column}' ({type}) {where}, and ONNX has no tensor type for it. Received: {column}: {type}. " +
            "Start the graph at a numeric, text or key column computed from it (PipelineOnnxOptions.InputColumns), or leave the column out of PipelineOnnxOptions.OutputColumns.",
            column: column);

    /// <summary>True for variable-size vectors (their row length is only known per row).</summary>
    public static bool IsVariableSize(DataViewType type) => type is VectorDataViewType { IsKnownSize: false };

    /// <summary>The tensor shape of a column: [batch, values]; a dynamic value count is named after the column.</summary>
    public static List<object> Shape(DataViewType type, string column, object batch) => type switch
    {
        VectorDataViewType { IsKnownSize: true } v => new List<object> { batch, (long)v.Size },
        VectorDataViewType => new List<object> { batch, $"{column}_values" },
        _ => new List<object> { batch, 1L },
    };

    /// <summary>A graph input or output for a column.</summary>
    public static ValueInfoProto ValueInfo(string name, DataViewType type, string column, object batch, string doc) => new()
    {
        Name = name,
        ElemType = ElementType(type, column, "is a graph input or output"),
        Shape = Shape(type, column, batch),
        DocString = doc,
    };

    /// <summary>How the column's values read in ONNX, for the docs of inputs and outputs.</summary>
    public static string Describe(DataViewType type)
    {
        var item = type is VectorDataViewType v ? v.ItemType : type;
        var shape = type switch
        {
            VectorDataViewType { IsKnownSize: true } kv => $"[rows, {kv.Size}]",
            VectorDataViewType => "[rows, values] (one row per run)",
            _ => "[rows, 1]",
        };
        return item is KeyDataViewType k
            ? $"ML.NET {type}: key ids {shape}, 1..{k.Count} (0 = missing)"
            : $"ML.NET {type}: {shape}";
    }
}

/// <summary>A data view with a schema and no rows: what ML.NET's converter is given for each step (it reads the schema only).</summary>
internal sealed class SchemaOnlyDataView : IDataView
{
    public SchemaOnlyDataView(DataViewSchema schema) => Schema = schema;

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => 0;
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new EmptyCursor(Schema);
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new DataViewRowCursor[] { new EmptyCursor(Schema) };

    private sealed class EmptyCursor(DataViewSchema schema) : DataViewRowCursor
    {
        public override DataViewSchema Schema => schema;
        public override long Position => -1;
        public override long Batch => 0;
        public override bool MoveNext() => false;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => throw new InvalidOperationException("The view has no rows.");
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => (ref TValue v) => throw new InvalidOperationException("The view has no rows.");
    }

    /// <summary>
    /// What ML.NET's converter is shown of the schema before a step: its visible columns of types ONNX can carry. The
    /// converter declares a graph input for every column it is shown and gives up on an image column even when the step
    /// doesn't read it; a step that does read a left-out column fails to convert, as it should.
    /// </summary>
    public static DataViewSchema ForConverter(DataViewSchema schema)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var c in schema)
            if (!c.IsHidden && ColumnTensors.TryElementType(c.Type) is not null) builder.AddColumn(c.Name, c.Type, c.Annotations);
        return builder.ToSchema();
    }

    /// <summary>
    /// <paramref name="schema"/> with every non-UInt32 key column (e.g. TokenizeIntoCharactersAsKeys' UInt16 keys)
    /// widened to a UInt32 key of the same count and annotations.
    /// </summary>
    public static DataViewSchema WidenKeys(DataViewSchema schema)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var c in schema)
        {
            var type = c.Type;
            var item = type is VectorDataViewType v ? v.ItemType : type;
            if (item is KeyDataViewType key && key.RawType != typeof(uint))
            {
                var wide = new KeyDataViewType(typeof(uint), key.Count);
                type = type is VectorDataViewType vec ? new VectorDataViewType(wide, vec.Dimensions.ToArray()) : wide;
            }
            builder.AddColumn(c.Name, type, c.Annotations);
        }
        return builder.ToSchema();
    }
}
