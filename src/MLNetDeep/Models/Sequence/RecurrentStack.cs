using MLNetDeep.Initializers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.utils.rnn;

namespace MLNetDeep.Models.Sequence;

/// <summary>
/// The batch-first LSTM / GRU / RNN stack shared by the sequence networks and the seq2seq encoder and decoder:
/// construction, the initialisation the trainers use, and one call shape for every cell (optional initial state in,
/// outputs and final states out).
/// </summary>
internal static class RecurrentStack
{
    /// <summary>A batch-first nn.LSTM / nn.GRU / nn.RNN.</summary>
    public static nn.Module Create(RecurrentCell cell, RnnNonlinearity nonlinearity, long inputSize, long hiddenSize, int layers, double dropout, bool bidirectional) => cell switch
    {
        RecurrentCell.Lstm => nn.LSTM(inputSize, hiddenSize, layers, batchFirst: true, dropout: dropout, bidirectional: bidirectional),
        RecurrentCell.Gru => nn.GRU(inputSize, hiddenSize, layers, batchFirst: true, dropout: dropout, bidirectional: bidirectional),
        _ => nn.RNN(inputSize, hiddenSize, layers,
            nonlinearity == RnnNonlinearity.Relu ? nn.NonLinearities.ReLU : nn.NonLinearities.Tanh,
            batchFirst: true, dropout: dropout, bidirectional: bidirectional),
    };

    /// <summary>Gates per cell (rows of W_ih / W_hh are gates × hidden).</summary>
    public static int Gates(RecurrentCell cell) => cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 };

    /// <summary>
    /// Input weights: <paramref name="initializer"/> (default Glorot uniform, as Keras); recurrent weights: one random
    /// orthogonal matrix per gate (or PyTorch's uniform default when <paramref name="orthogonal"/> is false); biases zero,
    /// except the LSTM forget gate's input bias (PyTorch gate order i, f, g, o).
    /// </summary>
    public static void Initialize(nn.Module rnn, RecurrentCell cell, long hidden, bool orthogonal, double forgetGateBias, Initializer? initializer)
    {
        using var _ = no_grad();
        var inputInit = initializer ?? new GlorotUniform();
        foreach (var (name, p) in rnn.named_parameters())
        {
            if (name.StartsWith("weight_ih", StringComparison.Ordinal)) inputInit.Initialize(p);
            else if (name.StartsWith("weight_hh", StringComparison.Ordinal))
            {
                if (!orthogonal) continue;
                for (int g = 0; g < Gates(cell); g++)
                {
                    using var block = empty(hidden, hidden);
                    nn.init.orthogonal_(block);
                    p.narrow(0, g * hidden, hidden).copy_(block);
                }
            }
            else if (name.StartsWith("bias", StringComparison.Ordinal))
            {
                p.zero_();
                if (cell == RecurrentCell.Lstm && name.StartsWith("bias_ih", StringComparison.Ordinal) && forgetGateBias != 0)
                    p.narrow(0, hidden, hidden).fill_(forgetGateBias);
            }
        }
    }

    /// <summary>
    /// x [B, T, F] (every row full length) with an optional initial state → outputs [B, T, D·H], final hidden [L·D, B, H]
    /// and (LSTM) final cell state [L·D, B, H], else null.
    /// </summary>
    public static (Tensor Outputs, Tensor H, Tensor? C) Run(nn.Module rnn, Tensor x, Tensor? h0 = null, Tensor? c0 = null) => rnn switch
    {
        LSTM lstm => Triple(h0 is null ? lstm.call(x) : lstm.call(x, (h0, c0!))),
        GRU gru => Pair(gru.call(x, h0)),
        RNN plain => Pair(plain.call(x, h0)),
        _ => throw new InvalidOperationException($"Unexpected recurrent module {rnn.GetType().Name}."),
    };

    /// <summary>A packed batch → packed outputs, final hidden [L·D, B, H] at each row's true last step, (LSTM) final cell state.</summary>
    public static (PackedSequence Outputs, Tensor H, Tensor? C) Run(nn.Module rnn, PackedSequence x) => rnn switch
    {
        LSTM lstm => Triple(lstm.call(x)),
        GRU gru => Pair(gru.call(x, null)),
        RNN plain => Pair(plain.call(x, null)),
        _ => throw new InvalidOperationException($"Unexpected recurrent module {rnn.GetType().Name}."),
    };

    /// <summary>
    /// x [B, T, F] padded after each row's <paramref name="lengths"/> (int64 [B]; null = all full) → outputs [B, T, D·H]
    /// (zeros on padding), final states at each row's true last step. Padding never enters the recurrence.
    /// </summary>
    public static (Tensor Outputs, Tensor H, Tensor? C) RunPadded(nn.Module rnn, Tensor x, Tensor? lengths)
    {
        if (lengths is null) return Run(rnn, x);
        using var packed = pack_padded_sequence(x, lengths.cpu(), batch_first: true, enforce_sorted: false);
        var (packedOut, h, c) = Run(rnn, packed);
        using (packedOut)
        {
            var (outputs, _) = pad_packed_sequence(packedOut, batch_first: true, total_length: x.shape[1]);
            return (outputs, h, c);
        }
    }

    private static (T, Tensor, Tensor?) Triple<T>((T Outputs, Tensor H, Tensor C) r) => (r.Outputs, r.H, r.C);
    private static (T, Tensor, Tensor?) Pair<T>((T Outputs, Tensor H) r) => (r.Outputs, r.H, null);
}
