using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Data;
using MLNetDeep.Inference;

namespace MLNetDeep.Onnx.Engine;

/// <summary>
/// Scores batches with one ONNX Runtime session over the model's batch graph (only its <c>Score</c> output, which holds
/// exactly the postprocessed values the transformer's output columns are read from). Input and output tensors are
/// <see cref="OrtValue"/>s over the caller's pinned buffers where the layouts agree (fixed-size rows, and per-row
/// outputs), so a batch is not copied; sequence batches are padded into pooled buffers. One session serves every thread
/// (ONNX Runtime's Run is thread-safe); nothing is shared between calls but the session.
/// </summary>
internal sealed class OnnxRuntimeBackend : IScoringBackend
{
    internal const string InputName = "__MLNetDeep_Features";
    private static readonly string[] OutputNames = { OnnxNames.Score };

    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly RunOptions _run = new();
    private readonly string[] _inputNames;
    private readonly long _rowWidth;             // fixed-size rows: values per row
    private readonly SequenceLayout? _sequence;  // sequence rows: padded per batch, with their lengths
    private readonly int _rowOutputs;            // per-row heads: values per row (classes, or 1)
    private readonly bool _perStep;              // tagging: Score is [N, T, classes]
    private int _callers;
    private volatile bool _disposed;

    public OnnxRuntimeBackend(InferenceSession session, SessionOptions options, FeatureLayout layout, int rowOutputs, bool perStep, string description)
    {
        _session = session;
        _options = options;
        _rowOutputs = rowOutputs;
        _perStep = perStep;
        Description = description;
        switch (layout)
        {
            case FixedShapeLayout fixedShape:
                _rowWidth = fixedShape.Size;
                _inputNames = new[] { InputName };
                break;
            case SequenceLayout sequence:
                _sequence = sequence;
                _inputNames = new[] { InputName, OnnxNames.Lengths };
                break;
            default:
                throw new NotSupportedException($"MLNetDeep's ONNX Runtime engine has no input for a {layout.GetType().Name}.");
        }
    }

    public string Description { get; }

    public bool TryScore(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths, Span<float> outputs)
    {
        Interlocked.Increment(ref _callers); // a full fence: Dispose sees this caller, or this caller sees _disposed
        try
        {
            if (_disposed) return false;
            if (_sequence is null) ScoreFixed(values, rowLengths.Length, outputs);
            else ScoreSequences(_sequence, values, rowLengths, outputs);
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _callers);
        }
    }

    private void ScoreFixed(ReadOnlySpan<float> values, int rows, Span<float> outputs)
    {
        if (values.Length != rows * _rowWidth || outputs.Length != rows * _rowOutputs)
            throw new InvalidOperationException($"MLNetDeep's ONNX Runtime engine got {values.Length} values and {outputs.Length} outputs for {rows} rows.");
        Run(values, new long[] { rows, _rowWidth }, default, outputs, PerRowShape(rows));
    }

    private void ScoreSequences(SequenceLayout layout, ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths, Span<float> outputs)
    {
        int rows = rowLengths.Length, perStep = layout.ValuesPerStep;
        var lengths = ArrayPool<int>.Shared.Rent(rows);
        float[]? padded = null, stepOutputs = null;
        try
        {
            // The steps each row keeps (MaxLength and Truncation as the transformer applies them) and the batch's longest.
            int longest = 0;
            bool asGiven = true; // every row whole and as long as the first: the values are the batch tensor already
            for (int i = 0; i < rows; i++)
            {
                int kept = layout.Steps(rowLengths[i]);
                lengths[i] = kept;
                longest = Math.Max(longest, kept);
                asGiven &= kept == layout.RawSteps(rowLengths[i]) && kept == lengths[0];
            }
            int width = longest * perStep;
            ReadOnlySpan<float> batch = values;
            if (!asGiven)
            {
                padded = ArrayPool<float>.Shared.Rent(rows * width);
                var target = padded.AsSpan(0, rows * width);
                target.Clear(); // padding steps are zeros (token id 0 = padding), as LibTorch's batches
                int at = 0;
                for (int i = 0; i < rows; i++)
                {
                    int steps = layout.RawSteps(rowLengths[i]);
                    int start = layout.Truncation == SequenceTruncation.KeepStart ? 0 : steps - lengths[i];
                    values.Slice(at + start * perStep, lengths[i] * perStep).CopyTo(target.Slice(i * width));
                    at += rowLengths[i];
                }
                batch = target;
            }
            var lengthSpan = lengths.AsSpan(0, rows);
            if (!_perStep)
            {
                Run(batch, new long[] { rows, width }, lengthSpan, outputs, PerRowShape(rows));
                return;
            }
            // Tagging: [rows, longest, classes] with padded steps, then each row's kept steps end to end.
            int k = _rowOutputs;
            stepOutputs = ArrayPool<float>.Shared.Rent(rows * longest * k);
            Run(batch, new long[] { rows, width }, lengthSpan, stepOutputs.AsSpan(0, rows * longest * k), new long[] { rows, longest, k });
            int written = 0;
            for (int i = 0; i < rows; i++)
            {
                stepOutputs.AsSpan(i * longest * k, lengths[i] * k).CopyTo(outputs.Slice(written));
                written += lengths[i] * k;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(lengths);
            if (padded is not null) ArrayPool<float>.Shared.Return(padded);
            if (stepOutputs is not null) ArrayPool<float>.Shared.Return(stepOutputs);
        }
    }

    /// <summary>Score's shape for per-row heads: [N, classes] (multiclass) or [N].</summary>
    private long[] PerRowShape(int rows) => _rowOutputs == 1 ? new long[] { rows } : new long[] { rows, _rowOutputs };

    /// <summary>One run over tensors that view the given memory, pinned for the call (nothing is copied).</summary>
    private unsafe void Run(ReadOnlySpan<float> input, long[] inputShape, ReadOnlySpan<int> lengths, Span<float> output, long[] outputShape)
    {
        var info = OrtMemoryInfo.DefaultInstance;
        fixed (float* x = input)
        fixed (int* l = lengths)
        fixed (float* y = output)
        {
            using var inputValue = OrtValue.CreateTensorValueWithData(info, TensorElementType.Float, inputShape, (IntPtr)x, (long)input.Length * sizeof(float));
            using var outputValue = OrtValue.CreateTensorValueWithData(info, TensorElementType.Float, outputShape, (IntPtr)y, (long)output.Length * sizeof(float));
            if (_sequence is null)
            {
                _session.Run(_run, _inputNames, new[] { inputValue }, OutputNames, new[] { outputValue });
                return;
            }
            using var lengthValue = OrtValue.CreateTensorValueWithData(info, TensorElementType.Int32, new long[] { lengths.Length }, (IntPtr)l, (long)lengths.Length * sizeof(int));
            _session.Run(_run, _inputNames, new[] { inputValue, lengthValue }, OutputNames, new[] { outputValue });
        }
    }

    /// <summary>Waits for the calls in flight, then releases the session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.MemoryBarrier();
        var wait = new SpinWait();
        while (Volatile.Read(ref _callers) != 0) wait.SpinOnce();
        _session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}
