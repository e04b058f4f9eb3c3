using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Initializers;

namespace MLNetDeep.Models.Dense;

/// <summary>
/// The saved description of a multilayer perceptron: the width of the feature vector it reads and its dense stack
/// (the same <see cref="DenseHead"/> every family ends in, here the whole network).
/// </summary>
public sealed class MlpArchitecture : NetworkArchitecture
{
    /// <summary>Values per row of the feature column; 0 until the trainer reads the training column.</summary>
    public int InputSize { get; init; }

    /// <summary>The hidden layers and the output layer.</summary>
    public DenseHead Stack { get; init; } = new();

    /// <inheritdoc />
    [JsonIgnore] public override FeatureLayout Layout => new FixedShapeLayout { Shape = new long[] { InputSize }, ShapeDescription = "features" };

    /// <inheritdoc />
    public override void Validate()
    {
        if (InputSize < 0) throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, $"InputSize must be >= 0. Received: InputSize={InputSize}");
        if (Stack is null) throw new ArgumentNullException(nameof(Stack), "Stack must be set (new DenseHead()).");
        Stack.Validate(MlpOptions.Name);
    }

    /// <inheritdoc />
    public override DeepNetwork Build(int outputSize, Initializer? initializer)
    {
        if (InputSize <= 0) throw new InvalidOperationException("The MLP's InputSize is not known yet: it is read from the training feature column.");
        return new MlpNetwork(this, outputSize, initializer);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterCount> CountParameters(int outputSize) =>
        InputSize <= 0 ? Array.Empty<ParameterCount>() : Stack.CountParameters(InputSize, outputSize, MlpOptions.Name).ToList();

    /// <summary>
    /// Checks that the feature column is a known-size numeric vector (what Concatenate, NormalizeMeanVariance and
    /// OneHotEncoding make) and returns a copy that records its size.
    /// </summary>
    public override NetworkArchitecture ForTrainingColumn(string columnName, DataViewType type)
    {
        FeatureColumnReader.CheckNumericVector(columnName, type);
        var vector = (VectorDataViewType)type;
        if (!vector.IsKnownSize)
            throw new ArgumentException(
                $"Feature column '{columnName}' is a vector of variable size ({vector}), but an MLP reads the same number of values from every row. " +
                "Build the column with mlContext.Transforms.Concatenate over scalar or fixed-size columns (after OneHotEncoding, NormalizeMeanVariance, ...); " +
                "for sequences of any length use a sequence trainer (Trainers.Lstm / Gru).", columnName);
        if (vector.Size > int.MaxValue)
            throw new ArgumentException($"Feature column '{columnName}' has {vector.Size} values per row; an MLP takes at most {int.MaxValue}.", columnName);
        return new MlpArchitecture { InputSize = vector.Size, Stack = Stack };
    }
}
