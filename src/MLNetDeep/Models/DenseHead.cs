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

/// <summary>
/// A fully connected stack: [input dropout] → (Linear → [BN] → activation → [dropout], [+ skip])* → output layer. Every family
/// ends in one (its dense head); the MLP family is one.
/// </summary>
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
    /// <summary>
    /// Skip (residual) connections: every hidden layer whose width equals the previous hidden layer's adds its input to its
    /// output, y = x + Dropout(Act(BN(Linear(x)))) (batch norm where <see cref="BatchNormPlacement"/> puts it; nothing runs
    /// after the sum). The first hidden layer and the output layer never have one. Default false.
    /// </summary>
    public bool Residual { get; set; }

    /// <summary>True when hidden layer <paramref name="index"/> adds its input to its output (see <see cref="Residual"/>).</summary>
    internal bool HasSkip(int index) => Residual && index > 0 && HiddenSizes[index] == HiddenSizes[index - 1];

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
        if (Residual && !Enumerable.Range(0, HiddenSizes.Count).Any(HasSkip))
            throw new ArgumentException(
                $"{owner}.Residual is true, but no hidden layer has the width of the one before it, so there is nowhere to put a skip connection. " +
                $"Received: HiddenSizes=[{string.Join(", ", HiddenSizes)}]. Skips join equal-width layers: use e.g. [256, 256, 256], or set Residual = false.",
                nameof(Residual));
    }
}
