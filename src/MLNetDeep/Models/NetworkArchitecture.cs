using System.Text.Json.Serialization;
using MLNetDeep.Activations;
using MLNetDeep.Data;
using MLNetDeep.Initializers;
using MLNetDeep.Models.Cnn;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models;

/// <summary>
/// A serialisable description of a network family's architecture (saved with the model so that loading
/// rebuilds the same modules before restoring the weights).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "family")]
[JsonDerivedType(typeof(CnnArchitecture), "cnn")]
[JsonDerivedType(typeof(Sequence.SequenceArchitecture), "sequence")]
[JsonDerivedType(typeof(Seq2Seq.Seq2SeqArchitecture), "seq2seq")]
[JsonDerivedType(typeof(Dense.MlpArchitecture), "mlp")]
[JsonDerivedType(typeof(Custom.CustomArchitecture), "custom")]
[JsonDerivedType(typeof(Backbones.BackboneArchitecture), "backbone")]
public abstract class NetworkArchitecture
{
    /// <summary>How rows' feature vectors become network inputs.</summary>
    [JsonIgnore] public abstract FeatureLayout Layout { get; }

    /// <summary>Checks the architecture; throws naming the option, the value received and the fix.</summary>
    public abstract void Validate();

    /// <summary>Builds the network with freshly initialised weights (the caller seeds torch first).</summary>
    public abstract DeepNetwork Build(int outputSize, Initializer? initializer);

    /// <summary>
    /// Checks the training feature column against the input layout and returns the architecture the model is trained
    /// and saved with: this one, or a copy whose layout records what the column tells (e.g. a vocabulary size).
    /// Never changes this object.
    /// </summary>
    public virtual NetworkArchitecture ForTrainingColumn(string columnName, Microsoft.ML.Data.DataViewType type)
    {
        Layout.ValidateColumn(columnName, type);
        return this;
    }

    /// <summary>
    /// The network's parameters by part (layer or option), for the memory check before anything is allocated; empty when
    /// the family can't tell before building (then the check is skipped).
    /// </summary>
    public virtual IReadOnlyList<ParameterCount> CountParameters(int outputSize) => Array.Empty<ParameterCount>();

    /// <summary>
    /// Refuses a network whose parameters would not fit in memory (weights, gradients and two optimizer moments, 4 bytes
    /// each), naming its largest part and the option to lower, before LibTorch is asked for the memory.
    /// </summary>
    internal void CheckMemory(int outputSize, long? availableBytes = null)
    {
        var parts = CountParameters(outputSize);
        if (parts.Count == 0) return;
        double total = parts.Sum(p => (double)p.Count);
        double needed = total * 4 * 4;
        double available = availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (needed <= available) return;
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var largest = string.Join("; ", parts.OrderByDescending(p => p.Count).Take(2).Select(p => string.Format(ci, "{0}: {1:G3} parameters", p.Part, (double)p.Count)));
        throw new ArgumentException(string.Format(ci,
            "This network would have {0:G3} parameters: {1:G3} GB to train (weights, gradients and optimizer state at 4 bytes each), " +
            "more than the {2:G3} GB this process can use. The largest parts: {3}. " +
            "Make them smaller (fewer filters, units or hidden size, or more downsampling before the dense layers).",
            total, needed / 1e9, available / 1e9, largest), "options");
    }
}

/// <summary>How many parameters one part of a network (a layer, an option) has.</summary>
/// <param name="Part">The part, named as the options name it (e.g. "Layers[1] (ConvBlock, Filters=64, KernelSize=3)").</param>
/// <param name="Count">Its parameters.</param>
public sealed record ParameterCount(string Part, long Count);

/// <summary>
/// Base of every MLNetDeep network: maps a batch of inputs (and, for sequences, their lengths) to raw
/// outputs (logits / margins / standardised regression values).
/// </summary>
public abstract class DeepNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates a named network module.</summary>
    protected DeepNetwork(string name) : base(name) { }

    /// <summary>Forward pass for inputs with optional per-row lengths (variable-length sequences).</summary>
    public virtual Tensor Forward(Tensor input, Tensor? lengths) => forward(input);

}
