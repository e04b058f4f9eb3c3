using MLNetDeep.Data;
using MLNetDeep.Initializers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Sequence;

/// <summary>
/// The network described by a <see cref="SequenceArchitecture"/>: [embedding] → LSTM/GRU/RNN stack (batch first)
/// → summary over time (many-to-one) or every step (tagging) → dense head. Variable-length batches are packed
/// (<c>pack_padded_sequence</c>), so padding never enters the recurrence: a row gives the same output alone or
/// in a batch with longer rows.
/// </summary>
public sealed class SequenceNetwork : DeepNetwork
{
    private readonly Embedding? embedding;
    private readonly nn.Module rnn;
    private readonly nn.Module<Tensor, Tensor> head;

    private readonly int _layers;
    private readonly int _directions;
    private readonly long _hidden;
    private readonly SequenceSummary _summary;
    private readonly bool _perStep;

    internal SequenceNetwork(SequenceArchitecture arch, int outputSize, Initializer? initializer) : base("sequence")
    {
        _layers = arch.Layers;
        _directions = arch.Bidirectional ? 2 : 1;
        _hidden = arch.HiddenSize;
        _summary = arch.Summary;
        _perStep = arch.PerStepOutput;

        long inputSize;
        if (arch.Input is TokenSequenceLayout tokens)
        {
            // Row 0 is the padding (and unknown-token) index: zero, and its gradient is never applied.
            embedding = nn.Embedding(tokens.EmbeddingRows, arch.EmbeddingSize, padding_idx: 0);
            inputSize = arch.EmbeddingSize;
        }
        else inputSize = ((NumericSequenceLayout)arch.Input).FeaturesPerStep;

        double dropout = arch.Layers > 1 ? arch.LayerDropout : 0;
        rnn = RecurrentStack.Create(arch.Cell, arch.Nonlinearity, inputSize, arch.HiddenSize, arch.Layers, dropout, arch.Bidirectional);
        RecurrentStack.Initialize(rnn, arch.Cell, arch.HiddenSize, arch.OrthogonalRecurrentWeights, arch.ForgetGateBias, initializer);
        head = new DenseHeadModule(arch.OutputWidth, arch.Head, outputSize, initializer);
        RegisterComponents();
    }

    /// <summary>x: [B, T, F] floats or [B, T] token ids, every row full length → [B, outputs] (or [B, T, outputs] when tagging).</summary>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>
    /// x: [B, T, F] floats or [B, T] token ids, padded to the longest row; lengths: [B] int64 real step counts
    /// (null = every row has T steps) → [B, outputs], or [B, T, outputs] when tagging (padding steps hold zeros).
    /// </summary>
    public override Tensor Forward(Tensor input, Tensor? lengths)
    {
        using var scope = NewDisposeScope();
        var x = embedding is null ? input : embedding.call(input);   // [B, T, F] or [B, T, E]
        long batch = x.shape[0], steps = x.shape[1];
        var (outputs, hN, cN) = RecurrentStack.RunPadded(rnn, x, lengths);           // [B, T, D·H], [L·D, B, H]
        cN?.Dispose();
        Tensor? mask = lengths is null ? null
            : arange(steps, device: x.device).unsqueeze(0).lt(lengths.to(x.device).unsqueeze(1)); // [B, T] true on real steps

        Tensor result;
        if (_perStep)
        {
            var flat = outputs.reshape(batch * steps, outputs.shape[2]);                      // [B·T, D·H]
            if (mask is null) result = head.call(flat).reshape(batch, steps, -1);           // [B, T, K]
            else
            {
                // Only real steps go through the head (batch norm / dropout never see padding).
                var idx = mask.reshape(-1).nonzero().squeeze(1);                              // [N_real]
                var real = head.call(flat.index_select(0, idx));                              // [N_real, K]
                result = zeros(batch * steps, real.shape[1], dtype: real.dtype, device: real.device)
                    .index_copy(0, idx, real).reshape(batch, steps, -1);                      // [B, T, K]
            }
        }
        else result = head.call(Summarise(outputs, hN, mask, lengths));                       // [B, K]
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>outputs [B, T, D·H], hN [L·D, B, H] → [B, D·H].</summary>
    private Tensor Summarise(Tensor outputs, Tensor hN, Tensor? mask, Tensor? lengths)
    {
        switch (_summary)
        {
            case SequenceSummary.MeanOverTime:
                if (mask is null) return outputs.mean(new long[] { 1 });
                var m = mask.unsqueeze(2).to(outputs.dtype);                                  // [B, T, 1]
                return (outputs * m).sum(1) / lengths!.to(outputs.device).unsqueeze(1).to(outputs.dtype);
            case SequenceSummary.MaxOverTime:
                if (mask is null) return outputs.amax(new long[] { 1 });
                return outputs.masked_fill(mask.logical_not().unsqueeze(2), float.NegativeInfinity).amax(new long[] { 1 });
            default:
                // h_n rows are (layer, direction); the top layer's forward state ends at each row's true last
                // step, its backward state (bidirectional) after reading back from that step to step 0.
                long b = hN.shape[1];
                var top = hN.view(_layers, _directions, b, _hidden)[_layers - 1];              // [D, B, H]
                return top.permute(1, 0, 2).reshape(b, _directions * _hidden);                 // [B, D·H]
        }
    }
}
