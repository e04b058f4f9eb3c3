using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Seq2Seq;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;
using MLNetDeep.Onnx;
using MLNetDeep.Tests.Seq2Seq;
using Xunit;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MLNetDeep.Tests.Onnx;

/// <summary>
/// The exported encoder and decoder-step graphs, run by ONNX Runtime with the driver loop of docs/seq2seq.md, against
/// the TorchSharp network on real CMUdict words (padded batches with lengths): every output within 1e-4.
/// </summary>
public sealed class OnnxSeq2SeqParityTests
{
    private const float Tolerance = 1e-4f;

    public static TheoryData<AttentionKind, RecurrentCell, int> Configurations => new()
    {
        { AttentionKind.LuongGeneral, RecurrentCell.Lstm, 1 }, { AttentionKind.Bahdanau, RecurrentCell.Gru, 2 },
        { AttentionKind.LuongDot, RecurrentCell.Lstm, 2 }, { AttentionKind.None, RecurrentCell.Rnn, 1 },
    };

    private static List<float[]> Words(int n) => G2PData.Examples(CmuDictSplit.Test, n, CmuDictVariants.First).Select(e => e.Source).ToList();

    [Fact]
    public void TrainedModel_OnnxGreedyDriverLoop_GivesTheSameOutputsAndLogProbabilities()
    {
        var net = G2PData.Trained.Value;
        var words = Words(64);
        var expected = Seq2SeqLoop.Decode(net, words);
        var models = Seq2SeqOnnx.Export(net);
        var actual = OnnxGreedy(models, net.Architecture, words);
        for (int i = 0; i < words.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.True(Math.Abs(expected[i].LogProbability - actual[i].LogProbability) <= Tolerance, $"row {i}: {expected[i].LogProbability} vs {actual[i].LogProbability}");
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void EncoderAndDecoderStep_MatchTorchSharp(AttentionKind attention, RecurrentCell cell, int decoderLayers)
    {
        var baseArch = G2PData.Architecture(attention, cell, hidden: 24);
        var arch = new Seq2SeqArchitecture
        {
            Input = baseArch.Input, Encoder = new RecurrentEncoder { Cell = cell, HiddenSize = 24, Bidirectional = true, Layers = 2, EmbeddingSize = 16 },
            Decoder = new RecurrentDecoder { Cell = cell, HiddenSize = baseArch.Decoder.HiddenSize, Layers = decoderLayers, EmbeddingSize = 16, Attention = attention, AttentionSize = 20 },
            TargetVocabularySize = G2PData.Phonemes, MaxOutputLength = 30,
        };
        CheckSteps(G2PData.Build(arch, seed: 11), Words(12));
    }

    [Fact]
    public void VectorSource_EncoderAndDecoderStep_MatchTorchSharp()
    {
        var arch = new Seq2SeqArchitecture
        {
            Input = new FixedShapeLayout { Shape = new long[] { FashionMnist.Pixels } },
            VectorEncoder = new VectorEncoder { Size = 32, Projection = new DenseHead { HiddenSizes = new() { 48 }, Dropout = 0 } },
            Decoder = new RecurrentDecoder { Cell = RecurrentCell.Lstm, HiddenSize = 32, Attention = AttentionKind.Bahdanau, AttentionSize = 16 },
            TargetVocabularySize = 20, MaxOutputLength = 12,
        };
        CheckSteps(G2PData.Build(arch, seed: 5), Support.TestData.TestImages(8).Select(i => i.Features).ToList());
    }

    /// <summary>Encoder outputs, then 6 decoder steps fed the TorchSharp path's tokens: states, log-probabilities and attention within tolerance.</summary>
    private static void CheckSteps(Seq2SeqNetwork net, List<float[]> sources)
    {
        net.eval();
        var arch = net.Architecture;
        var models = Seq2SeqOnnx.Export(net);
        using var encoder = new InferenceSession(models.Encoder);
        using var step = new InferenceSession(models.DecoderStep);
        using var _ = no_grad();
        var (x, lengths) = Seq2SeqBatch.CollateSources(arch.Input, sources, 0, sources.Count, 0, "Source");
        Assert.True(arch.VectorSource || lengths is not null, "the batch must be padded for the test to mean anything");
        using var enc = net.Encode(x, lengths);
        using var encoded = encoder.Run(EncoderInputs(arch, sources));
        var state = encoded.ToDictionary(o => o.Name, o => o.AsTensor<float>().ToDenseTensor());
        AssertClose(enc.Memory, state[Seq2SeqOnnx.Memory], "Memory");
        AssertClose(enc.H, state[Seq2SeqOnnx.H], "H");
        if (enc.C is not null) AssertClose(enc.C, state[Seq2SeqOnnx.C], "C");
        if (enc.Keys is not null) AssertClose(enc.Keys, state[Seq2SeqOnnx.Keys], "Keys");

        TorchTensor previous = full(new long[] { sources.Count }, arch.StartId, ScalarType.Int64), h = enc.H;
        TorchTensor? c = enc.C;
        for (int t = 0; t < 6; t++)
        {
            var (logits, h1, c1, weights) = net.Step(previous, h, c, enc);
            using var outputs = step.Run(StepInputs(arch, previous.data<long>().ToArray(), state, sources));
            var o = outputs.ToDictionary(v => v.Name, v => v.AsTensor<float>().ToDenseTensor());
            AssertClose(logits.log_softmax(-1), o[Seq2SeqOnnx.LogProbabilities], $"step {t} log-probabilities");
            AssertClose(h1, o[Seq2SeqOnnx.NextH], $"step {t} H");
            if (c1 is not null) AssertClose(c1, o[Seq2SeqOnnx.NextC], $"step {t} C");
            if (weights is not null) AssertClose(weights, o[Seq2SeqOnnx.Attention], $"step {t} attention");
            state[Seq2SeqOnnx.H] = o[Seq2SeqOnnx.NextH];
            if (c1 is not null) state[Seq2SeqOnnx.C] = o[Seq2SeqOnnx.NextC];
            (previous, h, c) = (logits.argmax(-1) + 1, h1, c1);
        }
    }

    private static List<NamedOnnxValue> EncoderInputs(Seq2SeqArchitecture arch, List<float[]> sources)
    {
        int n = sources.Count;
        if (arch.VectorSource)
        {
            int d = sources[0].Length;
            return new() { NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.Source, new DenseTensor<float>(sources.SelectMany(s => s).ToArray(), new[] { n, d })) };
        }
        int s = sources.Max(r => r.Length);
        var ids = new long[n * s];
        for (int i = 0; i < n; i++) for (int j = 0; j < sources[i].Length; j++) ids[i * s + j] = (long)sources[i][j];
        return new()
        {
            NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.SourceIds, new DenseTensor<long>(ids, new[] { n, s })),
            NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.SourceLengths, new DenseTensor<int>(sources.Select(r => r.Length).ToArray(), new[] { n })),
        };
    }

    private static List<NamedOnnxValue> StepInputs(Seq2SeqArchitecture arch, long[] previous, Dictionary<string, DenseTensor<float>> state, List<float[]> sources)
    {
        var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.PreviousToken, new DenseTensor<long>(previous, new[] { previous.Length })) };
        inputs.Add(NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.H, state[Seq2SeqOnnx.H]));
        if (state.ContainsKey(Seq2SeqOnnx.C)) inputs.Add(NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.C, state[Seq2SeqOnnx.C]));
        if (arch.Decoder.Attention == AttentionKind.None) return inputs;
        inputs.Add(NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.Memory, state[Seq2SeqOnnx.Memory]));
        inputs.Add(NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.Keys, state[Seq2SeqOnnx.Keys]));
        if (!arch.VectorSource)
            inputs.Add(NamedOnnxValue.CreateFromTensor(Seq2SeqOnnx.SourceLengths, new DenseTensor<int>(sources.Select(r => r.Length).ToArray(), new[] { sources.Count })));
        return inputs;
    }

    /// <summary>The greedy driver loop of docs/seq2seq.md: encoder once, then the step graph until every row has produced the end token.</summary>
    internal static List<(int[] Tokens, double LogProbability)> OnnxGreedy(Seq2SeqOnnxModels models, Seq2SeqArchitecture arch, List<float[]> sources)
    {
        using var encoder = new InferenceSession(models.Encoder);
        using var step = new InferenceSession(models.DecoderStep);
        using var encoded = encoder.Run(EncoderInputs(arch, sources));
        var state = encoded.ToDictionary(o => o.Name, o => o.AsTensor<float>().ToDenseTensor());
        int n = sources.Count, end = arch.OutputClasses - 1, classes = arch.OutputClasses;
        var tokens = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        var logp = new double[n];
        var done = new bool[n];
        var previous = Enumerable.Repeat((long)arch.StartId, n).ToArray();
        for (int t = 0; t <= arch.MaxOutputLength && done.Contains(false); t++)
        {
            using var outputs = step.Run(StepInputs(arch, previous, state, sources));
            var o = outputs.ToDictionary(v => v.Name, v => v.AsTensor<float>().ToDenseTensor());
            var lp = o[Seq2SeqOnnx.LogProbabilities].Buffer.Span;
            for (int i = 0; i < n; i++)
            {
                int best = end;                                       // the last allowed step can only end
                if (t < arch.MaxOutputLength)
                    for (int j = 0; j < classes; j++) if (lp[i * classes + j] > lp[i * classes + best] || (j < best && lp[i * classes + j] == lp[i * classes + best])) best = j;
                if (!done[i])
                {
                    logp[i] += lp[i * classes + best];
                    if (best == end) done[i] = true; else tokens[i].Add(best + 1);
                }
                previous[i] = best + 1;
            }
            state[Seq2SeqOnnx.H] = o[Seq2SeqOnnx.NextH];
            if (o.TryGetValue(Seq2SeqOnnx.NextC, out var nextC)) state[Seq2SeqOnnx.C] = nextC;
        }
        return tokens.Select((tk, i) => (tk.ToArray(), logp[i])).ToList();
    }

    private static void AssertClose(TorchTensor expected, DenseTensor<float> actual, string what)
    {
        var e = expected.contiguous().data<float>().ToArray();
        Assert.Equal(expected.shape.Select(d => (int)d).ToArray(), actual.Dimensions.ToArray());
        var a = actual.Buffer.Span;
        double max = 0;
        for (int i = 0; i < e.Length; i++)
        {
            if (float.IsNegativeInfinity(e[i]) && float.IsNegativeInfinity(a[i])) continue;
            max = Math.Max(max, Math.Abs(e[i] - a[i]));
        }
        Assert.True(max <= Tolerance, $"{what}: max abs diff {max}");
    }
}
