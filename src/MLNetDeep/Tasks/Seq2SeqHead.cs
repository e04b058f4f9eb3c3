using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.Tasks;

/// <summary>
/// Sequence to sequence: the label is a variable-length key vector of target tokens with a length of its own (ids 1..K);
/// the network scores K tokens and the end token per step, teacher-forced in training. Training labels are the step
/// targets [N, longest + 1] (token index, the end token K, then padding that the loss skips). Scoring decodes (greedy or
/// beam search): each row's output values are [token count, log-probability, the tokens (ids), 0 ...], a fixed width
/// of MaxOutputLength + 2, which become PredictedLabel (a key vector with the label's KeyValues, so MapKeyToValue gives
/// the target text back) and Score (the log-probability).
/// </summary>
internal sealed class Seq2SeqHead : TaskHead
{
    private readonly Seq2SeqOptions? _options;
    // The masked per-step cross-entropy (label smoothing, per-class weights) is the tagger's, over K + 1 classes.
    private readonly SequenceTaggingHead _steps = new();

    /// <param name="options">The trainer's options (read when a run starts); null for a head that only scores a saved model.</param>
    public Seq2SeqHead(Seq2SeqOptions? options = null) => _options = options;

    public override PredictionKind Kind => PredictionKind.SequenceToSequence;

    public override bool PerStepLabels => true;

    public override bool StepLabelsAlignWithFeatures => false;

    private Seq2SeqOptions Options => _options ?? throw new InvalidOperationException("This seq2seq head scores a saved model; it has no trainer options.");

    public override string[] CheckLabelColumn(DataViewSchema.Column column)
    {
        if (column.Type is not VectorDataViewType { ItemType: KeyDataViewType key } || !KeyReader.Supports(key))
            throw LabelTypeError(column, "a sequence-to-sequence trainer needs a vector of keys (the target tokens)",
                $"Tokenize the target text and map it to keys before the trainer, e.g. mlContext.Transforms.Text.TokenizeIntoWords(\"{column.Name}\") " +
                $"then mlContext.Transforms.Conversion.MapValueToKey(\"{column.Name}\") (or TokenizeIntoCharactersAsKeys for characters).");
        if (key.Count == 0 || key.Count > 100_000)
            throw LabelTypeError(column, $"the key has {key.Count} values", "Use a key type with a known count of at most 100,000 (MapValueToKey gives one).");
        return MulticlassHead.ClassNames(column, (int)key.Count);
    }

    public override Func<long, float> LabelReader(DataViewRow row, DataViewSchema.Column column) =>
        throw new NotSupportedException("A sequence-to-sequence label is a token sequence (StepLabels).");

    /// <summary>Reads a row's target keys and refuses an empty one, a missing or out-of-range key, or one longer than MaxOutputLength.</summary>
    public override StepLabelReader StepLabels(DataViewRow row, DataViewSchema.Column column)
    {
        var key = (KeyDataViewType)((VectorDataViewType)column.Type).ItemType;
        int k = (int)key.Count;
        int maxTokens = _options?.MaxOutputLength ?? int.MaxValue;
        var read = KeyReader.Create(row, column);
        int[] ids = Array.Empty<int>();
        float[] classes = Array.Empty<float>();
        return r =>
        {
            int n = read(ref ids);
            Seq2SeqBatch.ValidateTarget(k, maxTokens, column.Name, r, ids.AsSpan(0, n));
            if (classes.Length != n) classes = new float[n];
            for (int i = 0; i < n; i++) classes[i] = ids[i] - 1;
            return classes;
        };
    }

    public override HeadSpec Prepare(string labelColumn, string[] classNames, ReadOnlySpan<float> labels) =>
        new() { Kind = Kind, ClassNames = classNames, Seq2Seq = Options.Output() };

    /// <summary>A warm start keeps the saved target keys and takes this run's decoding and columns.</summary>
    public override HeadSpec ForWarmStart(HeadSpec saved, OutputColumnNames columns) =>
        new() { Kind = Kind, ClassNames = saved.ClassNames, Seq2Seq = Options.Output(), Columns = columns };

    public override Tensor LabelTensor(HeadSpec spec, float[] labels) =>
        throw new NotSupportedException("Sequence-to-sequence labels are built per step (StepLabelTensor).");

    /// <summary>[N, longest + 1] int64 step targets: token indices, the end token K, then <see cref="Seq2SeqBatch.IgnoredTarget"/>.</summary>
    public override Tensor StepLabelTensor(HeadSpec spec, float[] labels, long[] offsets) =>
        Seq2SeqBatch.TargetTensor(labels, offsets, spec.ClassNames.Length);

    /// <summary>Per-row loss whose batch mean is the mean cross-entropy over every real target step and end token (logits [B, T, K+1]).</summary>
    public override Tensor Loss(Tensor output, Tensor labels) => _steps.Loss(output, labels);

    /// <summary>The training loss with label smoothing over the K + 1 classes and per-token weights (the end token weighs 1).</summary>
    public override Tensor TrainingLoss(Tensor output, Tensor labels, Tensor? exampleWeights, double labelSmoothing, Tensor? classWeights)
    {
        if (classWeights is null) return _steps.TrainingLoss(output, labels, exampleWeights, labelSmoothing, null);
        using var withEnd = cat(new[] { classWeights, ones(1, dtype: classWeights.dtype, device: classWeights.device) }, 0);
        return _steps.TrainingLoss(output, labels, exampleWeights, labelSmoothing, withEnd);
    }

    public override IReadOnlyList<MetricInfo> MetricInfos { get; } = new[]
    {
        new MetricInfo(ExactMatch, HigherIsBetter: true), new MetricInfo(TokenErrorRate, HigherIsBetter: false), new MetricInfo(Bleu, HigherIsBetter: true),
    };

    /// <summary>The validation metrics' names (see <see cref="Seq2SeqMetrics"/>).</summary>
    internal const string ExactMatch = "exact_match", TokenErrorRate = "token_error_rate", Bleu = "bleu";

    /// <summary>Target keys K (the network scores K + 1 classes per step: the keys and the end token).</summary>
    public override int OutputSize(HeadSpec spec) => spec.ClassNames.Length;

    /// <summary>Metrics of decoded rows (<see cref="Decode"/>'s layout) against the step targets.</summary>
    public override Dictionary<string, double> Metrics(HeadSpec spec, Tensor output, Tensor labels)
    {
        var predictions = Rows(output).Select(r => (IReadOnlyList<int>)r).ToList();
        int k = spec.ClassNames.Length;
        long width = labels.shape[1];
        var targets = labels.cpu().data<long>().ToArray();
        var references = new List<IReadOnlyList<int>>(predictions.Count);
        for (int i = 0; i < predictions.Count; i++)
        {
            var reference = new List<int>();
            for (long t = 0; t < width && targets[i * width + t] is long c && c >= 0 && c < k; t++) reference.Add((int)c + 1);
            references.Add(reference);
        }
        var m = Seq2SeqMetrics.Compute(predictions, references);
        return new() { [ExactMatch] = m.ExactMatch, [TokenErrorRate] = m.TokenErrorRate, [Bleu] = m.Bleu };
    }

    /// <summary>Decoded rows are already what the columns hold.</summary>
    public override Tensor Postprocess(HeadSpec spec, Tensor output) => output.alias();

    public override int RowOutputSize(HeadSpec spec, FeatureLayout layout, int featureLength) => Output(spec).RowWidth;

    /// <summary>Decodes the batch with the saved decoding (greedy or beam search).</summary>
    public override Tensor ScoreBatch(HeadSpec spec, DeepNetwork network, Tensor input, Tensor? lengths) =>
        Decode(AsSeq2Seq(network), input, lengths, Output(spec).Decoding, Output(spec).MaxTokens);

    /// <summary>
    /// Decodes a batch → [B, maxTokens + 2] float: the token count, the log-probability, then the token ids (0 after the last).
    /// </summary>
    internal static Tensor Decode(Seq2SeqNetwork network, Tensor input, Tensor? lengths, Seq2SeqDecodeOptions decoding, int maxTokens)
    {
        var predictions = Seq2SeqDecoder.Decode(network, input, lengths, decoding.WithMaxOutputLength(maxTokens));
        int width = maxTokens + 2;
        var rows = new float[predictions.Length * width];
        for (int i = 0; i < predictions.Length; i++)
        {
            var p = predictions[i];
            rows[i * width] = p.Tokens.Length;
            rows[i * width + 1] = (float)p.LogProbability;
            for (int t = 0; t < p.Tokens.Length; t++) rows[i * width + 2 + t] = p.Tokens[t];
        }
        return tensor(rows, new long[] { predictions.Length, width });
    }

    /// <summary>The token ids of each row of a <see cref="Decode"/> tensor.</summary>
    private static IEnumerable<int[]> Rows(Tensor decoded)
    {
        long width = decoded.shape[1];
        var values = decoded.cpu().data<float>().ToArray();
        for (long i = 0; i < decoded.shape[0]; i++)
        {
            var row = values.AsSpan((int)(i * width), (int)width);
            var tokens = new int[(int)row[0]];
            for (int t = 0; t < tokens.Length; t++) tokens[t] = (int)row[2 + t];
            yield return tokens;
        }
    }

    public override string? SingleGraphOnnxUnsupported(HeadSpec spec) => NoSingleGraph;

    /// <summary>Never reached: the exporter asks <see cref="SingleGraphOnnxUnsupported"/> first.</summary>
    internal override void EmitOnnx(Onnx.OnnxHeadWriter w) => throw new Onnx.OnnxExportException("the sequence-to-sequence head", NoSingleGraph);

    private const string NoSingleGraph =
        "its prediction is a decoding loop (greedy or beam search, one decoder step per output token) that the single-graph export does not write. " +
        "Save it with DeepTransformer.Save(path) (MLNetDeep's own format: identical predictions after DeepTransformer.Load, and continued training), " +
        "or export the encoder and one decoder step with model.ExportSeq2SeqToOnnx(encoderPath, decoderStepPath) and run the decoding loop " +
        "with ONNX Runtime (the driver loop is in docs/seq2seq.md).";

    public override IReadOnlyList<OutputColumn> OutputColumns { get; } = new[] { OutputColumn.Score, OutputColumn.PredictedLabel };

    public override void AddOutputColumns(HeadSpec spec, DataViewSchema.Builder builder)
    {
        if (Output(spec).LogProbabilityColumn) builder.AddColumn(spec.Columns.Score, NumberDataViewType.Single);
        int k = spec.ClassNames.Length;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, spec.ClassNames.Select(n => n.AsMemory()).ToArray());
        var keyAnn = new DataViewSchema.Annotations.Builder();
        keyAnn.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, k), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        builder.AddColumn(spec.Columns.PredictedLabel, new VectorDataViewType(new KeyDataViewType(typeof(uint), k)), keyAnn.ToAnnotations());
    }

    public override IEnumerable<SchemaShape.Column> OutputShape(OutputColumnNames names)
    {
        if (_options?.LogProbabilityColumn ?? true)
            yield return MLNetInternals.MLNetBridge.MakeColumn(names.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        var keyValues = new SchemaShape(new[] { MLNetInternals.MLNetBridge.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        yield return MLNetInternals.MLNetBridge.MakeColumn(names.PredictedLabel, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, keyValues);
    }

    public override Delegate MakeGetter(HeadSpec spec, OutputColumn column, Func<ReadOnlyMemory<float>> currentRow) => column switch
    {
        OutputColumn.Score => (ValueGetter<float>)((ref float dst) => dst = currentRow().Span[1]),
        OutputColumn.PredictedLabel => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
        {
            var row = currentRow().Span;
            int n = (int)row[0];
            var editor = VBufferEditor.Create(ref dst, n);
            for (int t = 0; t < n; t++) editor.Values[t] = (uint)row[2 + t];
            dst = editor.Commit();
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "Not an output column."),
    };

    private static Seq2SeqOutput Output(HeadSpec spec) =>
        spec.Seq2Seq ?? throw new InvalidDataException("This sequence-to-sequence model's description has no Seq2Seq output settings (the file is damaged or was not written by MLNetDeep).");

    private static Seq2SeqNetwork AsSeq2Seq(DeepNetwork network) => network as Seq2SeqNetwork ?? throw new InvalidOperationException(
        $"A sequence-to-sequence model needs a Seq2SeqNetwork; this one holds a {network.GetType().Name}.");

    /// <summary>Reads key vectors of UInt32, UInt16 or Byte keys (MapValueToKey, TokenizeIntoCharactersAsKeys) as int ids.</summary>
    private static class KeyReader
    {
        /// <summary>Writes the current row's keys into <paramref name="buffer"/> (grown as needed); returns their count.</summary>
        public delegate int Read(ref int[] buffer);

        public static bool Supports(KeyDataViewType key) => key.RawType == typeof(uint) || key.RawType == typeof(ushort) || key.RawType == typeof(byte);

        public static Read Create(DataViewRow row, DataViewSchema.Column column)
        {
            var raw = ((VectorDataViewType)column.Type).ItemType.RawType;
            return raw == typeof(uint) ? Make<uint>(row, column, v => (int)Math.Min(v, int.MaxValue))
                : raw == typeof(ushort) ? Make<ushort>(row, column, v => v)
                : Make<byte>(row, column, v => v);
        }

        private static Read Make<T>(DataViewRow row, DataViewSchema.Column column, Func<T, int> convert)
        {
            var getter = row.GetGetter<VBuffer<T>>(column);
            VBuffer<T> value = default;
            return (ref int[] buffer) =>
            {
                getter(ref value);
                if (buffer.Length < value.Length) buffer = new int[value.Length];
                int i = 0;
                foreach (var v in value.DenseValues()) buffer[i++] = convert(v);
                return value.Length;
            };
        }
    }
}
