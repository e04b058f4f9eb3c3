using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Scoring;
using MLNetDeep.Training;

namespace MLNetDeep.Onnx;

/// <summary>
/// Turns a trained <see cref="DeepTransformer"/> into public ML.NET transformers that score the same rows
/// with ONNX Runtime: an OnnxTransformer over the model's single-row ONNX graph, then (multiclass) a
/// MapValueToKey that rebuilds PredictedLabel as a key whose values are the class names. This is what
/// <c>mlContext.Model.Save</c> writes for an MLNetDeep model.
/// </summary>
public static class MLNetOnnxExtensions
{
    /// <summary>
    /// An ML.NET transformer (a chain of OnnxTransformer and, for multiclass, MapValueToKey) that outputs the
    /// same columns as <paramref name="model"/> (Score, Probability, PredictedLabel by task) from the same
    /// feature column, scored by ONNX Runtime instead of TorchSharp. The feature column must be a
    /// known-size vector of Single. Save it with <c>mlContext.Model.Save</c> like any ML.NET transformer.
    /// </summary>
    /// <param name="model">A trained MLNetDeep model.</param>
    /// <param name="mlContext">The context to build the transforms in (null: a new one).</param>
    public static ITransformer ToOnnxTransformer(this DeepTransformer model, MLContext? mlContext = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new OnnxSaveRoute().ToMLNetTransformer(model, mlContext);
    }
}

/// <summary>The route <see cref="MLNetModelSave"/> finds by name (MLNetDeep references no ONNX Runtime itself).</summary>
internal sealed class OnnxSaveRoute : IMLNetSaveRoute
{
    public ITransformer ToMLNetTransformer(DeepTransformer model, MLContext? mlContext)
    {
        var ml = mlContext ?? new MLContext();
        var spec = model.Description.Head;
        if (model.Description.Architecture.Layout is not Data.FixedShapeLayout layout)
            throw new NotSupportedException(
                $"An MLNetDeep {model.Description.Architecture.GetType().Name} model reads variable-size rows; ML.NET's OnnxTransformer " +
                "feeds fixed-size vectors only, so it can't be saved with mlContext.Model.Save. Save it with DeepTransformer.Save(path), " +
                "or export it with ExportToOnnx and score it with ONNX Runtime directly.");
        string feature = model.FeatureColumnName;
        var outputs = OnnxExporter.OutputNames(spec.Kind);

        byte[] bytes = OnnxExporter.ToBytes(model, new OnnxExportOptions(), OnnxGraphForm.SingleRow);
        var onnxEstimator = ml.Transforms.ApplyOnnxModel(outputs, new[] { feature }, new MemoryStream(bytes));

        // An empty view with the feature column is enough to fit: neither transform learns from data.
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(FeatureRow));
        definition[0].ColumnName = feature;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, checked((int)layout.Size));
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), definition);
        var onnx = onnxEstimator.Fit(empty);
        if (spec.Kind != PredictionKind.MulticlassClassification)
            return new TransformerChain<ITransformer>(onnx);

        var names = spec.ClassNames;
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(grp => grp.Count() > 1);
        if (duplicate is not null || names.Any(string.IsNullOrEmpty))
            throw new NotSupportedException(
                $"The model's class names {(duplicate is not null ? $"repeat '{duplicate.Key}'" : "include an empty name")}; " +
                "saving inside an ML.NET model rebuilds PredictedLabel's key from the names, so they must be distinct and non-empty.");
        var keyData = ml.Data.LoadFromEnumerable(names.Select(n => new KeyRow { Value = n }));
        var toKey = ml.Transforms.Conversion.MapValueToKey(ColumnNames.PredictedLabel, ColumnNames.PredictedLabel, keyData: keyData)
            .Fit(onnx.Transform(empty));
        return new TransformerChain<ITransformer>(onnx, toKey);
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    private sealed class KeyRow
    {
        public string Value { get; set; } = "";
    }
}
