using System.Buffers.Binary;
using MLNetDeep.Onnx.Proto;
using static TorchSharp.torch;

namespace MLNetDeep.OnnxImport.Graph;

/// <summary>ONNX tensors (TensorProto) as TorchSharp tensors, and ONNX element types as TorchSharp's.</summary>
internal static class OnnxTensors
{
    /// <summary>The TorchSharp type holding an ONNX element type (unsigned 16/32/64-bit widen to Int32/Int64/Int64: LibTorch has no such types).</summary>
    public static ScalarType ToTorch(OnnxDataType type, string what) => type switch
    {
        OnnxDataType.Float => ScalarType.Float32,
        OnnxDataType.Double => ScalarType.Float64,
        OnnxDataType.Float16 => ScalarType.Float16,
        OnnxDataType.BFloat16 => ScalarType.BFloat16,
        OnnxDataType.Int8 => ScalarType.Int8,
        OnnxDataType.UInt8 => ScalarType.Byte,
        OnnxDataType.Int16 => ScalarType.Int16,
        OnnxDataType.Int32 => ScalarType.Int32,
        OnnxDataType.Int64 => ScalarType.Int64,
        OnnxDataType.Bool => ScalarType.Bool,
        OnnxDataType.UInt16 => ScalarType.Int32,
        OnnxDataType.UInt32 or OnnxDataType.UInt64 => ScalarType.Int64,
        _ => throw new OnnxImportException($"{what} has element type {type}, which the importer does not support (numbers and booleans only)."),
    };

    /// <summary>A CPU tensor with the values of <paramref name="proto"/>.</summary>
    public static Tensor ToTensor(TensorProto proto, string what)
    {
        var type = ToTorch(proto.DataType, what);
        byte[] bytes;
        try { bytes = proto.ToLittleEndianBytes(); }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException)
        {
            throw new OnnxImportException($"{what}: {e.Message}", inner: e);
        }
        var dims = proto.Dims.ToArray();
        switch (proto.DataType)
        {
            case OnnxDataType.UInt16:
                return tensor(Widen(bytes, 2, b => BinaryPrimitives.ReadUInt16LittleEndian(b)).Select(v => (int)v).ToArray(), dims);
            case OnnxDataType.UInt32:
                return tensor(Widen(bytes, 4, b => (long)BinaryPrimitives.ReadUInt32LittleEndian(b)), dims);
            case OnnxDataType.UInt64:
                return tensor(Widen(bytes, 8, b => unchecked((long)BinaryPrimitives.ReadUInt64LittleEndian(b))), dims);
        }
        var t = empty(dims, type);
        if (bytes.Length > 0) t.bytes = bytes;
        return t;
    }

    private delegate long SpanReader(ReadOnlySpan<byte> bytes); // Func<ReadOnlySpan<byte>, long> needs .NET 9 (the core also targets net8.0)

    private static long[] Widen(byte[] bytes, int size, SpanReader read)
    {
        var values = new long[bytes.Length / size];
        for (int i = 0; i < values.Length; i++) values[i] = read(bytes.AsSpan(i * size, size));
        return values;
    }

    /// <summary>The values of an integer tensor (shapes, axes, pads, sizes) as longs.</summary>
    public static long[] Longs(Tensor t)
    {
        using var cpu = t.detach().to(ScalarType.Int64, CPU).contiguous().flatten();
        return cpu.data<long>().ToArray();
    }

    /// <summary>The values of a numeric tensor as doubles.</summary>
    public static double[] Doubles(Tensor t)
    {
        using var cpu = t.detach().to(ScalarType.Float64, CPU).contiguous().flatten();
        return cpu.data<double>().ToArray();
    }
}
