using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Data;

/// <summary>
/// Reads a numeric vector column (Single, Double, Byte or key) row by row into a reusable float buffer,
/// with one copy per row and no boxing.
/// </summary>
internal sealed class FeatureColumnReader
{
    private delegate ReadOnlySpan<float> SpanReader();

    private readonly SpanReader _read;

    public FeatureColumnReader(DataViewRow row, DataViewSchema.Column column)
    {
        var item = ItemType(column.Type);
        if (item is NumberDataViewType && item.RawType == typeof(float)) _read = Make<float>(row, column, static v => v);
        else if (item.RawType == typeof(double)) _read = Make<double>(row, column, static v => (float)v);
        else if (item.RawType == typeof(byte)) _read = Make<byte>(row, column, static v => v);
        else if (item.RawType == typeof(uint)) _read = Make<uint>(row, column, static v => v);
        else if (item.RawType == typeof(ushort)) _read = Make<ushort>(row, column, static v => v); // e.g. TokenizeIntoCharactersAsKeys
        else if (item.RawType == typeof(int)) _read = Make<int>(row, column, static v => v);
        else throw new ArgumentException($"Feature column '{column.Name}' has item type {item}; MLNetDeep reads Single, Double, Byte, Int32 or key vectors.", column.Name);
    }

    /// <summary>The current row's values (valid until the next call).</summary>
    public ReadOnlySpan<float> Read() => _read();

    private static SpanReader Make<T>(DataViewRow row, DataViewSchema.Column column, Func<T, float> convert) where T : struct
    {
        float[] buffer = Array.Empty<float>();
        VBuffer<T> vb = default;
        if (column.Type is VectorDataViewType)
        {
            var getter = row.GetGetter<VBuffer<T>>(column);
            return () =>
            {
                getter(ref vb);
                if (buffer.Length != vb.Length) buffer = new float[vb.Length];
                if (typeof(T) == typeof(float) && vb.IsDense)
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(vb.GetValues());
                    src.CopyTo(buffer);
                }
                else if (vb.IsDense)
                {
                    var src = vb.GetValues();
                    for (int i = 0; i < src.Length; i++) buffer[i] = convert(src[i]);
                }
                else
                {
                    Array.Clear(buffer);
                    var vals = vb.GetValues();
                    var idx = vb.GetIndices();
                    for (int i = 0; i < vals.Length; i++) buffer[idx[i]] = convert(vals[i]);
                }
                return buffer;
            };
        }
        var scalar = row.GetGetter<T>(column);
        T value = default!;
        buffer = new float[1];
        return () => { scalar(ref value); buffer[0] = convert(value); return buffer; };
    }

    /// <summary>The item type of a vector type, or the type itself.</summary>
    public static DataViewType ItemType(DataViewType type) => type is VectorDataViewType v ? v.ItemType : type;

    /// <summary>Throws unless <paramref name="type"/> is a numeric (or key) vector.</summary>
    public static void CheckNumericVector(string columnName, DataViewType type)
    {
        var item = ItemType(type);
        bool numeric = item.RawType == typeof(float) || item.RawType == typeof(double) || item.RawType == typeof(byte)
                       || item.RawType == typeof(uint) || item.RawType == typeof(int) || item.RawType == typeof(ushort);
        if (type is not VectorDataViewType || !numeric)
            throw new ArgumentException(
                $"Feature column '{columnName}' has type {type}; MLNetDeep needs a numeric vector (Single, Double or Byte). " +
                "For images use mlContext.Transforms.LoadImages + ResizeImages + ExtractPixels; for several numeric columns use Concatenate; " +
                "for other numeric types use Conversion.ConvertType to Single.", columnName);
    }

    /// <summary>Throws naming the row and slot of the first NaN or infinity.</summary>
    public static void CheckFinite(string columnName, long row, ReadOnlySpan<float> values)
    {
        // Fast path: v − v is 0 for every finite v and NaN for ±∞ and NaN, so the vector sum of v − v is NaN exactly
        // when some value is not finite. Only then is the row scanned again to name the slot.
        var lanes = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(values);
        var acc = System.Numerics.Vector<float>.Zero;
        foreach (var v in lanes) acc += v - v;
        float tail = 0;
        for (int i = lanes.Length * System.Numerics.Vector<float>.Count; i < values.Length; i++) tail += values[i] - values[i];
        if (!float.IsNaN(System.Numerics.Vector.Sum(acc) + tail)) return;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new InvalidDataException(
                    $"Feature column '{columnName}', row {row}, slot {i}: value {values[i]} is not finite. " +
                    "Remove or impute missing values before training (e.g. mlContext.Transforms.ReplaceMissingValues or FilterRowsByMissingValues).");
        }
    }
}
