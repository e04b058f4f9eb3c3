using System.Text.Json.Serialization;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>
/// How one row's feature vector becomes a network input: which column types and sizes are accepted
/// and how a batch of rows is laid out as a tensor. Saved with the model.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(FixedShapeLayout), "fixed")]
[JsonDerivedType(typeof(NumericSequenceLayout), "numeric_sequence")]
[JsonDerivedType(typeof(TokenSequenceLayout), "token_sequence")]
public abstract class FeatureLayout
{
    /// <summary>Throws a clear error if a column of this type cannot feed the network. Changes nothing.</summary>
    public abstract void ValidateColumn(string columnName, DataViewType type);

    /// <summary>
    /// Checks the training column and returns the layout the model is trained and saved with: this one, or a copy that
    /// records what the column tells (e.g. a token column's vocabulary size). Never changes this layout.
    /// </summary>
    public virtual FeatureLayout ForTrainingColumn(string columnName, DataViewType type)
    {
        ValidateColumn(columnName, type);
        return this;
    }

    /// <summary>
    /// The per-row tensor shape when every row of a column of <paramref name="type"/> has the same shape under this
    /// layout (the data set is then kept as one dense tensor and batched by index); null when rows vary.
    /// </summary>
    public virtual long[]? DenseRowShape(DataViewType type) => IsFixedSize ? BatchShape(1).Skip(1).ToArray() : null;

    /// <summary>Throws a clear error if one row's values cannot feed the network.</summary>
    public abstract void ValidateRow(string columnName, long row, ReadOnlySpan<float> values);

    /// <summary>True when every row has the same number of values (dense batching by index_select).</summary>
    [JsonIgnore] public abstract bool IsFixedSize { get; }

    /// <summary>Builds (values, lengths) for rows whose values are laid end to end in <paramref name="values"/>.</summary>
    public abstract (Tensor Values, Tensor? Lengths) Collate(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths);

    /// <summary>Shape of a dense batch of <paramref name="rows"/> rows (fixed-size layouts).</summary>
    public abstract long[] BatchShape(long rows);
}

/// <summary>Every row is a known-size vector reshaped to <see cref="Shape"/> (e.g. channels × height × width).</summary>
public sealed class FixedShapeLayout : FeatureLayout
{
    /// <summary>Per-row tensor shape, e.g. [1, 28, 28].</summary>
    public long[] Shape { get; init; } = Array.Empty<long>();

    /// <summary>Product of <see cref="Shape"/>.</summary>
    [JsonIgnore] public long Size => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Words used in messages for the shape, e.g. "channels x height x width".</summary>
    public string ShapeDescription { get; init; } = "";

    /// <inheritdoc />
    public override bool IsFixedSize => true;

    /// <inheritdoc />
    public override void ValidateColumn(string columnName, DataViewType type)
    {
        FeatureColumnReader.CheckNumericVector(columnName, type);
        var vt = (VectorDataViewType)type;
        if (!vt.IsKnownSize)
            throw new ArgumentException(
                $"Feature column '{columnName}' is a variable-size vector, but this network needs exactly {Size} values per row " +
                $"({ShapeDescription} = {string.Join(" x ", Shape)}). Resize the images to a fixed size (e.g. mlContext.Transforms.ResizeImages) " +
                "or make the vector a known size before the trainer.", columnName);
        if (vt.Size != Size)
            throw new ArgumentException(
                $"Feature column '{columnName}' has {vt.Size} values per row, but the declared shape {string.Join(" x ", Shape)} " +
                $"({ShapeDescription}) needs {Size}. Fix the shape in the options or the column (e.g. resize the images, check ExtractPixels' color bits).",
                columnName);
    }

    /// <inheritdoc />
    public override void ValidateRow(string columnName, long row, ReadOnlySpan<float> values)
    {
        if (values.Length != Size)
            throw new InvalidDataException($"Feature column '{columnName}', row {row}: {values.Length} values, expected {Size}.");
        FeatureColumnReader.CheckFinite(columnName, row, values);
    }

    /// <inheritdoc />
    public override (Tensor Values, Tensor? Lengths) Collate(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths)
        => (NativeBuffers.FromSpan(values, BatchShape(rowLengths.Length)), null);

    /// <inheritdoc />
    public override long[] BatchShape(long rows) => new[] { rows }.Concat(Shape).ToArray();
}
