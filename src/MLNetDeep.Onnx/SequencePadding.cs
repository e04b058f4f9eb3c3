using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNetDeep.Onnx;

/// <summary>
/// Pads a variable-length sequence row to a fixed width for ML.NET's OnnxTransformer, which feeds known-size vectors
/// only. The width is part of the output type, so there is one CustomMapping factory per width (powers of two from
/// 16 to 65,536 values) and end (first or last values kept); a saved ML.NET model names its factory by contract.
/// Their contract names are stored in saved ML.NET models: never rename them.
/// </summary>
internal static class SequencePadding
{
    /// <summary>Column the pad mapping reads (a copy of the feature column, as Single).</summary>
    public const string InputColumn = "__MLNetDeep_Sequence";

    /// <summary>The widths there is a factory for.</summary>
    public static readonly int[] Widths = { 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536 };

    /// <summary>The smallest width that holds <paramref name="values"/> values, or null when none does.</summary>
    public static int? WidthFor(long values) => Widths.Cast<int?>().FirstOrDefault(w => w >= values);

    /// <summary>The pad mapping (a CustomMapping estimator) for a width and end.</summary>
    public static IEstimator<ITransformer> Estimator(MLContext ml, int width, bool keepEnd) => (width, keepEnd) switch
    {
        (16, false) => Make(ml, new PadStart16(), PadStart16.Contract),
        (16, true) => Make(ml, new PadEnd16(), PadEnd16.Contract),
        (32, false) => Make(ml, new PadStart32(), PadStart32.Contract),
        (32, true) => Make(ml, new PadEnd32(), PadEnd32.Contract),
        (64, false) => Make(ml, new PadStart64(), PadStart64.Contract),
        (64, true) => Make(ml, new PadEnd64(), PadEnd64.Contract),
        (128, false) => Make(ml, new PadStart128(), PadStart128.Contract),
        (128, true) => Make(ml, new PadEnd128(), PadEnd128.Contract),
        (256, false) => Make(ml, new PadStart256(), PadStart256.Contract),
        (256, true) => Make(ml, new PadEnd256(), PadEnd256.Contract),
        (512, false) => Make(ml, new PadStart512(), PadStart512.Contract),
        (512, true) => Make(ml, new PadEnd512(), PadEnd512.Contract),
        (1024, false) => Make(ml, new PadStart1024(), PadStart1024.Contract),
        (1024, true) => Make(ml, new PadEnd1024(), PadEnd1024.Contract),
        (2048, false) => Make(ml, new PadStart2048(), PadStart2048.Contract),
        (2048, true) => Make(ml, new PadEnd2048(), PadEnd2048.Contract),
        (4096, false) => Make(ml, new PadStart4096(), PadStart4096.Contract),
        (4096, true) => Make(ml, new PadEnd4096(), PadEnd4096.Contract),
        (8192, false) => Make(ml, new PadStart8192(), PadStart8192.Contract),
        (8192, true) => Make(ml, new PadEnd8192(), PadEnd8192.Contract),
        (16384, false) => Make(ml, new PadStart16384(), PadStart16384.Contract),
        (16384, true) => Make(ml, new PadEnd16384(), PadEnd16384.Contract),
        (32768, false) => Make(ml, new PadStart32768(), PadStart32768.Contract),
        (32768, true) => Make(ml, new PadEnd32768(), PadEnd32768.Contract),
        (65536, false) => Make(ml, new PadStart65536(), PadStart65536.Contract),
        (65536, true) => Make(ml, new PadEnd65536(), PadEnd65536.Contract),
        _ => throw new ArgumentOutOfRangeException(nameof(width), width, $"No pad mapping of width {width}. Widths: {string.Join(", ", Widths)}."),
    };

    private static IEstimator<ITransformer> Make<T>(MLContext ml, PadFactory<T> factory, string contract) where T : class, IPaddedRow, new()
        => ml.Transforms.CustomMapping(factory.GetMapping(), contract);

    /// <summary>The row's first (or last) values, up to the padded vector's length, at the start of a zero-padded vector; and its real value count.</summary>
    public static void Fill(float[] row, float[] padded, int[] count, bool keepEnd)
    {
        int n = Math.Min(row.Length, padded.Length);
        Array.Clear(padded);
        Array.Copy(row, keepEnd ? row.Length - n : 0, padded, 0, n);
        count[0] = row.Length;
    }
}

/// <summary>The pad mapping's input row.</summary>
internal sealed class SequenceRow
{
    [ColumnName(SequencePadding.InputColumn)] public float[] Values { get; set; } = Array.Empty<float>();
}

/// <summary>Token ids (a key or UInt32 vector, read as UInt32: key values 1..K, 0 = unknown) → the pad mapping's Single input.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class TokenIdsFactory : CustomMappingFactory<TokenIdsFactory.Ids, SequenceRow>
{
    public const string Contract = "MLNetDeep.Onnx.TokenIds";
    /// <summary>Column the mapping reads: a copy of the feature column (its name varies, this one is fixed).</summary>
    public const string InputColumn = "__MLNetDeep_TokenIds";

    public override Action<Ids, SequenceRow> GetMapping() => (ids, row) =>
    {
        var values = new float[ids.Values.Length];
        for (int i = 0; i < values.Length; i++) values[i] = ids.Values[i];
        row.Values = values;
    };

    public sealed class Ids
    {
        [ColumnName(InputColumn)] public uint[] Values { get; set; } = Array.Empty<uint>();
    }
}

/// <summary>Shared body of the pad factories.</summary>
internal abstract class PadFactory<TPadded> : CustomMappingFactory<SequenceRow, TPadded> where TPadded : class, IPaddedRow, new()
{
    protected abstract bool KeepEnd { get; }

    public override Action<SequenceRow, TPadded> GetMapping()
    {
        bool keepEnd = KeepEnd;
        return (row, padded) => SequencePadding.Fill(row.Values, padded.Values, padded.Count, keepEnd);
    }
}

/// <summary>A padded row: the values vector and the real value count.</summary>
internal interface IPaddedRow
{
    float[] Values { get; }
    int[] Count { get; }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart16 : PadFactory<PadStart16.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.16";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(16)] public float[] Values { get; set; } = new float[16];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd16 : PadFactory<PadEnd16.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.16";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(16)] public float[] Values { get; set; } = new float[16];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart32 : PadFactory<PadStart32.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.32";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(32)] public float[] Values { get; set; } = new float[32];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd32 : PadFactory<PadEnd32.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.32";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(32)] public float[] Values { get; set; } = new float[32];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart64 : PadFactory<PadStart64.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.64";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(64)] public float[] Values { get; set; } = new float[64];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd64 : PadFactory<PadEnd64.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.64";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(64)] public float[] Values { get; set; } = new float[64];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart128 : PadFactory<PadStart128.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.128";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(128)] public float[] Values { get; set; } = new float[128];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd128 : PadFactory<PadEnd128.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.128";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(128)] public float[] Values { get; set; } = new float[128];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart256 : PadFactory<PadStart256.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.256";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(256)] public float[] Values { get; set; } = new float[256];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd256 : PadFactory<PadEnd256.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.256";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(256)] public float[] Values { get; set; } = new float[256];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart512 : PadFactory<PadStart512.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.512";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(512)] public float[] Values { get; set; } = new float[512];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd512 : PadFactory<PadEnd512.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.512";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(512)] public float[] Values { get; set; } = new float[512];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart1024 : PadFactory<PadStart1024.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.1024";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(1024)] public float[] Values { get; set; } = new float[1024];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd1024 : PadFactory<PadEnd1024.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.1024";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(1024)] public float[] Values { get; set; } = new float[1024];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart2048 : PadFactory<PadStart2048.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.2048";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(2048)] public float[] Values { get; set; } = new float[2048];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd2048 : PadFactory<PadEnd2048.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.2048";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(2048)] public float[] Values { get; set; } = new float[2048];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart4096 : PadFactory<PadStart4096.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.4096";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(4096)] public float[] Values { get; set; } = new float[4096];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd4096 : PadFactory<PadEnd4096.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.4096";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(4096)] public float[] Values { get; set; } = new float[4096];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart8192 : PadFactory<PadStart8192.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.8192";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(8192)] public float[] Values { get; set; } = new float[8192];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd8192 : PadFactory<PadEnd8192.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.8192";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(8192)] public float[] Values { get; set; } = new float[8192];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart16384 : PadFactory<PadStart16384.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.16384";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(16384)] public float[] Values { get; set; } = new float[16384];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd16384 : PadFactory<PadEnd16384.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.16384";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(16384)] public float[] Values { get; set; } = new float[16384];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart32768 : PadFactory<PadStart32768.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.32768";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(32768)] public float[] Values { get; set; } = new float[32768];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd32768 : PadFactory<PadEnd32768.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.32768";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(32768)] public float[] Values { get; set; } = new float[32768];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadStart65536 : PadFactory<PadStart65536.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadStart.65536";
    protected override bool KeepEnd => false;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(65536)] public float[] Values { get; set; } = new float[65536];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}

[CustomMappingFactoryAttribute(Contract)]
internal sealed class PadEnd65536 : PadFactory<PadEnd65536.Padded>
{
    public const string Contract = "MLNetDeep.Onnx.PadEnd.65536";
    protected override bool KeepEnd => true;
    public sealed class Padded : IPaddedRow
    {
        [ColumnName(OnnxNames.PaddedValues), VectorType(65536)] public float[] Values { get; set; } = new float[65536];
        [ColumnName(OnnxNames.ValueCount), VectorType(1)] public int[] Count { get; set; } = new int[1];
    }
}
