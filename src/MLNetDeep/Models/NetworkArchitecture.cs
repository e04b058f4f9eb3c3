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
[JsonDerivedType(typeof(Custom.CustomArchitecture), "custom")]
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
}

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
