using MLNetDeep.Data;
using MLNetDeep.Models.Sequence;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>What the encoder hands the decoder: the memory to attend over and the decoder's initial state.</summary>
public sealed class EncodedSource : IDisposable
{
    /// <summary>Encoder outputs [B, S, M] (one slot for vector sources); zeros on padded steps.</summary>
    public required Tensor Memory { get; init; }
    /// <summary>The memory as the attention scores it: W_k·memory (Bahdanau), W·memory (Luong general), the memory itself (Luong dot); null without attention.</summary>
    public Tensor? Keys { get; init; }
    /// <summary>[B, S] true on real source steps; null when every row has S steps.</summary>
    public Tensor? Mask { get; init; }
    /// <summary>The decoder's initial hidden state [Ld, B, Hd].</summary>
    public required Tensor H { get; init; }
    /// <summary>The decoder's initial cell state [Ld, B, Hd] (LSTM decoders), else null.</summary>
    public Tensor? C { get; init; }

    /// <summary>Rows <paramref name="index"/> (int64 [B']) of every tensor, e.g. each row repeated for the beams.</summary>
    public EncodedSource Select(Tensor index) => new()
    {
        Memory = Memory.index_select(0, index), Keys = Keys?.index_select(0, index), Mask = Mask?.index_select(0, index),
        H = H.index_select(1, index), C = C?.index_select(1, index),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Memory.Dispose(); Keys?.Dispose(); Mask?.Dispose(); H.Dispose(); C?.Dispose();
    }
}

/// <summary>
/// The network described by a <see cref="Seq2SeqArchitecture"/>: an encoder (recurrent stack over token / numeric
/// sequences, packed so padding never enters it; or a dense / CNN encoder of one vector), a bridge from the encoder's
/// final state to the decoder's initial state (tanh(W·[h_fwd; h_bwd]) per decoder layer), and a recurrent decoder
/// over target-token embeddings with optional attention (masked, so padded source steps get weight 0), a tanh
/// combination of its output and the context, and an output projection onto the K tokens and the end token.
/// </summary>
public sealed class Seq2SeqNetwork : DeepNetwork
{
    private readonly Embedding? sourceEmbedding;
    private readonly nn.Module? encoder;
    private readonly nn.Module<Tensor, Tensor>? vectorEncoder;
    private readonly Linear bridge;
    private readonly Linear? bridgeCell;
    private readonly Embedding targetEmbedding;
    private readonly Linear? attentionQuery;
    private readonly Linear? attentionKey;
    private readonly Linear? attentionScore;
    private readonly nn.Module decoder;
    private readonly Linear? combine;
    private readonly Dropout? outputDropout;
    private readonly Linear output;

    /// <summary>The architecture the network was built from (a copy).</summary>
    public Seq2SeqArchitecture Architecture { get; }

    private readonly AttentionKind _attention;
    private readonly int _decoderLayers;
    private readonly long _decoderHidden;

    internal Seq2SeqNetwork(Seq2SeqArchitecture arch, Initializers.Initializer? initializer) : base("seq2seq")
    {
        Architecture = Persistence.Json.Clone(arch);
        var dec = arch.Decoder;
        _attention = dec.Attention;
        _decoderLayers = dec.Layers;
        _decoderHidden = dec.HiddenSize;
        long memoryWidth = arch.MemoryWidth;
        long bridgeIn;
        if (arch.Input is FixedShapeLayout fixedShape)
        {
            var ve = arch.VectorEncoder;
            vectorEncoder = ve.Cnn is { } cnn
                ? cnn.Build(ve.Size, initializer)
                : new DenseHeadModule(fixedShape.Size, ve.Projection, ve.Size, initializer);
            bridgeIn = ve.Size;
        }
        else
        {
            var enc = arch.Encoder;
            long inputSize;
            if (arch.Input is TokenSequenceLayout tokens)
            {
                sourceEmbedding = nn.Embedding(tokens.EmbeddingRows, enc.EmbeddingSize, padding_idx: 0);
                inputSize = enc.EmbeddingSize;
            }
            else inputSize = ((NumericSequenceLayout)arch.Input).FeaturesPerStep;
            encoder = RecurrentStack.Create(enc.Cell, enc.Nonlinearity, inputSize, enc.HiddenSize, enc.Layers, enc.Layers > 1 ? enc.LayerDropout : 0, enc.Bidirectional);
            RecurrentStack.Initialize(encoder, enc.Cell, enc.HiddenSize, arch.OrthogonalRecurrentWeights, arch.ForgetGateBias, initializer);
            bridgeIn = memoryWidth;
        }
        bridge = nn.Linear(bridgeIn, dec.Layers * dec.HiddenSize);
        NetworkInit.InitLayer(bridge, initializer, Activations.Activation.TanhActivation);
        if (dec.Cell == RecurrentCell.Lstm)
        {
            bridgeCell = nn.Linear(bridgeIn, dec.Layers * dec.HiddenSize);
            NetworkInit.InitLayer(bridgeCell, initializer, Activations.Activation.TanhActivation);
        }
        // Rows: 0 padding, 1..K tokens, K+1 end, K+2 start.
        targetEmbedding = nn.Embedding(arch.StartId + 1, dec.EmbeddingSize, padding_idx: 0);
        long decoderInput = dec.EmbeddingSize;
        switch (dec.Attention)
        {
            case AttentionKind.Bahdanau:
                attentionQuery = nn.Linear(dec.HiddenSize, dec.AttentionSize, hasBias: false);
                attentionKey = nn.Linear(memoryWidth, dec.AttentionSize);
                attentionScore = nn.Linear(dec.AttentionSize, 1, hasBias: false);
                decoderInput += memoryWidth;
                break;
            case AttentionKind.LuongGeneral:
                attentionKey = nn.Linear(memoryWidth, dec.HiddenSize, hasBias: false);
                break;
        }
        foreach (var l in new[] { attentionQuery, attentionKey, attentionScore })
            if (l is not null) NetworkInit.InitLayer(l, initializer, Activations.Activation.TanhActivation);
        decoder = RecurrentStack.Create(dec.Cell, dec.Nonlinearity, decoderInput, dec.HiddenSize, dec.Layers, dec.Layers > 1 ? dec.Dropout : 0, bidirectional: false);
        RecurrentStack.Initialize(decoder, dec.Cell, dec.HiddenSize, arch.OrthogonalRecurrentWeights, arch.ForgetGateBias, initializer);
        if (dec.Attention != AttentionKind.None)
        {
            combine = nn.Linear(dec.HiddenSize + memoryWidth, dec.HiddenSize);
            NetworkInit.InitLayer(combine, initializer, Activations.Activation.TanhActivation);
        }
        if (dec.Dropout > 0) outputDropout = nn.Dropout(dec.Dropout);
        output = nn.Linear(dec.HiddenSize, arch.OutputClasses);
        NetworkInit.InitLayer(output, initializer ?? new Initializers.GlorotUniform(), null);
        RegisterComponents();
    }

    /// <summary>
    /// The encoder. source: [B, S] token ids, [B, S, F] numeric steps or [B, ...] vectors / images; lengths: [B] int64
    /// real steps (null = all S) → memory, attention keys, mask and the decoder's initial state.
    /// </summary>
    public EncodedSource Encode(Tensor source, Tensor? lengths)
    {
        using var scope = NewDisposeScope();
        Tensor memory, summary;
        Tensor? mask = null;
        if (vectorEncoder is not null)
        {
            var x = Architecture.VectorEncoder.Cnn is null ? source.reshape(source.shape[0], -1) : source;
            summary = vectorEncoder.call(x).tanh();                                            // [B, P]
            memory = summary.unsqueeze(1);                                                     // [B, 1, P]
        }
        else
        {
            var x = sourceEmbedding is null ? source : sourceEmbedding.call(source);           // [B, S, F] or [B, S, E]
            var (outputs, h, _) = RecurrentStack.RunPadded(encoder!, x, lengths);              // [B, S, D·He], [Le·D, B, He]
            memory = outputs;
            var enc = Architecture.Encoder;
            int dirs = enc.Bidirectional ? 2 : 1;
            long b = h.shape[1];
            // Top layer's final states: forward at each row's true last step, backward after reading back to step 0.
            summary = h.view(enc.Layers, dirs, b, enc.HiddenSize)[enc.Layers - 1].permute(1, 0, 2).reshape(b, dirs * enc.HiddenSize); // [B, D·He]
            if (lengths is not null)
                mask = arange(x.shape[1], device: x.device).unsqueeze(0).lt(lengths.to(x.device).unsqueeze(1)); // [B, S]
        }
        Tensor? keys = _attention switch
        {
            AttentionKind.Bahdanau or AttentionKind.LuongGeneral => attentionKey!.call(memory),   // [B, S, A] or [B, S, Hd]
            AttentionKind.LuongDot => memory.alias(),
            _ => null,
        };
        var h0 = InitialState(bridge, summary);
        var c0 = bridgeCell is null ? null : InitialState(bridgeCell, summary);
        return new EncodedSource
        {
            Memory = memory.MoveToOuterDisposeScope(), Keys = keys?.MoveToOuterDisposeScope(), Mask = mask?.MoveToOuterDisposeScope(),
            H = h0.MoveToOuterDisposeScope(), C = c0?.MoveToOuterDisposeScope(),
        };
    }

    /// <summary>summary [B, in] → tanh(W·summary) as [Ld, B, Hd].</summary>
    private Tensor InitialState(Linear layer, Tensor summary) =>
        layer.call(summary).tanh().view(summary.shape[0], _decoderLayers, _decoderHidden).permute(1, 0, 2).contiguous();

    /// <summary>
    /// Attention of queries [B, Q, Hd] over the memory → context [B, Q, M] and weights [B, Q, S] (0 on padded steps).
    /// </summary>
    private (Tensor Context, Tensor Weights) Attend(Tensor query, EncodedSource enc)
    {
        Tensor scores;                                                                         // [B, Q, S]
        if (_attention == AttentionKind.Bahdanau)
        {
            var q = attentionQuery!.call(query).unsqueeze(2);                                  // [B, Q, 1, A]
            scores = attentionScore!.call((q + enc.Keys!.unsqueeze(1)).tanh()).squeeze(-1);    // [B, Q, S]
        }
        else scores = query.bmm(enc.Keys!.transpose(1, 2));                                    // [B, Q, S]
        if (enc.Mask is not null) scores = scores.masked_fill(enc.Mask.logical_not().unsqueeze(1), float.NegativeInfinity);
        var weights = scores.softmax(-1);
        return (weights.bmm(enc.Memory), weights);
    }

    /// <summary>Decoder outputs [B, Q, Hd] (and their contexts) → logits [B, Q, K+1].</summary>
    private Tensor Project(Tensor decoded, Tensor? context)
    {
        var features = combine is null ? decoded : combine.call(cat(new[] { decoded, context! }, -1)).tanh();
        if (outputDropout is not null) features = outputDropout.call(features);
        return output.call(features);
    }

    /// <summary>
    /// One decoder step. previous: [B] int64 ids of the previous output (the start id first); h, c: the state [Ld, B, Hd]
    /// → logits [B, K+1], the new state, and the attention weights [B, S] (null without attention).
    /// </summary>
    public (Tensor Logits, Tensor H, Tensor? C, Tensor? Attention) Step(Tensor previous, Tensor h, Tensor? c, EncodedSource enc)
    {
        using var scope = NewDisposeScope();
        var input = targetEmbedding.call(previous).unsqueeze(1);                               // [B, 1, E]
        Tensor? context = null, weights = null;
        if (_attention == AttentionKind.Bahdanau)
        {
            (context, weights) = Attend(h[_decoderLayers - 1].unsqueeze(1), enc);              // [B, 1, M], [B, 1, S]
            input = cat(new[] { input, context }, -1);                                         // [B, 1, E+M]
        }
        var (decoded, h1, c1) = RecurrentStack.Run(decoder, input, h, c);                      // [B, 1, Hd]
        if (_attention is AttentionKind.LuongDot or AttentionKind.LuongGeneral)
            (context, weights) = Attend(decoded, enc);
        var logits = Project(decoded, context).squeeze(1);                                     // [B, K+1]
        return (logits.MoveToOuterDisposeScope(), h1.MoveToOuterDisposeScope(), c1?.MoveToOuterDisposeScope(),
            weights?.squeeze(1).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Training forward. decoderInput: [B, T] ids (the start id, then the target tokens; padding after a row's end);
    /// at step t the decoder reads decoderInput[:, t] with probability <paramref name="teacherForcingRatio"/> (per row and
    /// step, drawn from <paramref name="generator"/>), otherwise its own previous arg-max → logits [B, T, K+1].
    /// With ratio 1 and no Bahdanau attention the whole target runs through the recurrent stack in one call.
    /// </summary>
    public Tensor Forward(Tensor source, Tensor? lengths, Tensor decoderInput, double teacherForcingRatio = 1.0, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        using var enc = Encode(source, lengths);
        long steps = decoderInput.shape[1];
        Tensor logits;
        if (teacherForcingRatio >= 1 && _attention != AttentionKind.Bahdanau)
        {
            var embedded = targetEmbedding.call(decoderInput);                                 // [B, T, E]
            var (decoded, _, _) = RecurrentStack.Run(decoder, embedded, enc.H, enc.C);         // [B, T, Hd]
            var context = _attention == AttentionKind.None ? null : Attend(decoded, enc).Context; // [B, T, M]
            logits = Project(decoded, context);                                                // [B, T, K+1]
        }
        else
        {
            var perStep = new List<Tensor>();
            Tensor h = enc.H, previous = decoderInput[.., 0];
            Tensor? c = enc.C;
            for (long t = 0; t < steps; t++)
            {
                var (stepLogits, h1, c1, _) = Step(previous, h, c, enc);
                perStep.Add(stepLogits);
                (h, c) = (h1, c1);
                if (t + 1 == steps) break;
                var teacher = decoderInput[.., t + 1];
                if (teacherForcingRatio >= 1) previous = teacher;
                else
                {
                    var own = stepLogits.argmax(-1) + 1;                                       // output index j is id j + 1
                    var coin = rand(new[] { teacher.shape[0] }, generator: generator, device: teacher.device).lt(teacherForcingRatio);
                    previous = where(coin, teacher, own);
                }
            }
            logits = stack(perStep, 1);                                                        // [B, T, K+1]
        }
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scoring forward (the network as a <see cref="DeepNetwork"/>): greedy decoding of a batch → the log-probabilities
    /// [B, L, K+1] of every step of the greedy path (L = steps taken; rows that ended earlier repeat their last step's
    /// values). Token ids, per-row log-probabilities and beam search: <see cref="Seq2SeqDecoder"/>.
    /// </summary>
    public override Tensor Forward(Tensor input, Tensor? lengths) =>
        Seq2SeqDecoder.GreedyLogProbabilities(this, input, lengths, Architecture.MaxOutputLength);

    /// <inheritdoc cref="Forward(Tensor, Tensor?)" />
    public override Tensor forward(Tensor x) => Forward(x, null);
}
