using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Onnx.Proto;

namespace MLNetDeep.Tests.Support;

/// <summary>Runs a model in ONNX Runtime on tensors of any element type given as ONNX TensorProtos; outputs come back as raw bytes.</summary>
internal static class OrtRaw
{
    /// <summary>One output: element type, shape, and its bytes (tensors of numbers) or strings.</summary>
    public sealed record Value(TensorElementType Type, long[] Shape, byte[] Bytes, string[]? Strings)
    {
        /// <summary>True when type, shape and every bit of the data are equal.</summary>
        public bool SameAs(Value other) => Type == other.Type && Shape.SequenceEqual(other.Shape) && Bytes.AsSpan().SequenceEqual(other.Bytes)
            && (Strings ?? Array.Empty<string>()).SequenceEqual(other.Strings ?? Array.Empty<string>());
    }

    /// <summary>
    /// Feeds <paramref name="inputs"/> to the session's inputs in order and returns every output (null for a
    /// non-tensor output). Throws <see cref="NotRunnableException"/> when ONNX Runtime refuses the model or the run.
    /// </summary>
    public static List<Value?> Run(byte[] model, IReadOnlyList<TensorProto> inputs)
    {
        try { return RunOrThrow(model, inputs); }
        catch (OnnxRuntimeException e) { throw new NotRunnableException(e.Message); }
    }

    /// <summary>ONNX Runtime can't load or run the model on these inputs.</summary>
    public sealed class NotRunnableException(string message) : Exception(message);

    private static List<Value?> RunOrThrow(byte[] model, IReadOnlyList<TensorProto> inputs)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        using var session = new InferenceSession(model, options);
        if (inputs.Count != session.InputNames.Count)
            throw new NotRunnableException($"{inputs.Count} inputs for {session.InputNames.Count}");
        var handles = new List<GCHandle>();
        var values = new List<OrtValue>();
        try
        {
            foreach (var t in inputs)
            {
                if (t.DataType is OnnxDataType.String or OnnxDataType.Undefined)
                    throw new NotRunnableException("string inputs are not fed by this helper");
                var bytes = t.ToLittleEndianBytes();
                var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
                handles.Add(handle);
                values.Add(OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)t.DataType,
                    t.Dims.ToArray(), handle.AddrOfPinnedObject(), bytes.Length));
            }
            using var run = new RunOptions();
            using var outputs = session.Run(run, session.InputNames, values, session.OutputNames);
            return outputs.Select(o =>
            {
                if (!o.IsTensor) return null;
                var info = o.GetTensorTypeAndShape();
                return info.ElementDataType == TensorElementType.String
                    ? new Value(info.ElementDataType, info.Shape, Array.Empty<byte>(), o.GetStringTensorAsArray())
                    : new Value(info.ElementDataType, info.Shape, o.GetTensorMutableRawData().ToArray(), null);
            }).ToList();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
            foreach (var h in handles) h.Free();
        }
    }
}
