using MLNetDeep.Activations;

namespace MLNetDeep.Models;

/// <summary>Where a block's batch normalisation sits relative to its activation.</summary>
public enum BatchNormPlacement
{
    /// <summary>linear/conv → batch norm → activation (Ioffe &amp; Szegedy, 2015; the usual choice).</summary>
    BeforeActivation,
    /// <summary>linear/conv → activation → batch norm (normalises what the next layer sees; often as good in practice).</summary>
    AfterActivation,
}

/// <summary>The fully connected head: [input dropout] → (Linear → [BN] → activation → [dropout])* → output layer.</summary>
public sealed class DenseHead
{
    /// <summary>Sizes of the hidden layers. Default one layer of 128.</summary>
    public List<int> HiddenSizes { get; set; } = new() { 128 };
    /// <summary>Hidden layers' activation. Default ReLU.</summary>
    public Activation Activation { get; set; } = new Relu();
    /// <summary>Dropout after each hidden layer.</summary>
    public double Dropout { get; set; } = 0.5;
    /// <summary>Dropout on the head's input (after flattening).</summary>
    public double InputDropout { get; set; } = 0.25;
    /// <summary>Batch norm after each hidden linear layer.</summary>
    public bool BatchNorm { get; set; }
    /// <summary>Where batch norm goes relative to the activation (with <see cref="BatchNorm"/>). Default before it.</summary>
    public BatchNormPlacement BatchNormPlacement { get; set; } = BatchNormPlacement.BeforeActivation;

    /// <summary>Parameters of the head's layers for an input of <paramref name="inputSize"/> values.</summary>
    internal IEnumerable<ParameterCount> CountParameters(long inputSize, int outputSize, string owner)
    {
        long width = inputSize;
        for (int i = 0; i < HiddenSizes.Count; i++)
        {
            long h = HiddenSizes[i];
            yield return new ParameterCount($"{owner}.HiddenSizes[{i}] (a dense layer of {h} units on {width} inputs)", width * h + h + (BatchNorm ? 4 * h : 0));
            width = h;
        }
        yield return new ParameterCount($"the output layer ({outputSize} units on {width} inputs{(HiddenSizes.Count == 0 && width > 1_000_000 ? $", after flattening {width} values" : "")})", width * outputSize + outputSize);
    }

    internal void Validate(string owner)
    {
        if (HiddenSizes is null) throw new ArgumentNullException(nameof(HiddenSizes), $"{owner}.HiddenSizes must be a list (empty for a linear head).");
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] <= 0)
                throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"{owner}.HiddenSizes[{i}] must be > 0. Received: {HiddenSizes[i]}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"{owner}.Dropout must be in [0, 1). Received: Dropout={Dropout}");
        if (!(InputDropout >= 0 && InputDropout < 1)) throw new ArgumentOutOfRangeException(nameof(InputDropout), InputDropout, $"{owner}.InputDropout must be in [0, 1). Received: InputDropout={InputDropout}");
        if (Activation is null) throw new ArgumentNullException(nameof(Activation), $"{owner}.Activation must be set.");
    }
}
