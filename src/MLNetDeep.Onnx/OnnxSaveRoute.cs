using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
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
        var outputs = OnnxExporter.GraphOutputNames(spec.Kind, OnnxGraphForm.SingleRow);

        byte[] bytes = OnnxExporter.ToBytes(model, new OnnxExportOptions(), OnnxGraphForm.SingleRow);
        var onnxEstimator = ml.Transforms.ApplyOnnxModel(outputs, new[] { feature }, new MemoryStream(bytes));

        // An empty view with the feature column is enough to fit: none of these transforms learns from data.
        var definition = SchemaDefinition.Create(typeof(FeatureRow));
        definition[0].ColumnName = feature;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, checked((int)layout.Size));
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), definition);

        // ML.NET 5.0.1's OnnxTransformer can't read rank-0 outputs, so per-row scalars come out as one-element
        // vectors; a CustomMapping (contract below, found by name when the model is loaded) makes them scalars.
        var temporary = outputs.Where(o => o.StartsWith(OnnxExporter.SingleRowScalarPrefix, StringComparison.Ordinal)).ToArray();
        IEstimator<ITransformer> estimator = onnxEstimator;
        estimator = spec.Kind switch
        {
            PredictionKind.BinaryClassification => estimator.Append(ml.Transforms.CustomMapping(new BinaryColumnsFactory().GetMapping(), BinaryColumnsFactory.Contract)),
            PredictionKind.Regression => estimator.Append(ml.Transforms.CustomMapping(new RegressionColumnsFactory().GetMapping(), RegressionColumnsFactory.Contract)),
            _ => estimator.Append(ml.Transforms.CustomMapping(new MulticlassColumnsFactory().GetMapping(), MulticlassColumnsFactory.Contract)),
        };
        estimator = estimator.Append(ml.Transforms.DropColumns(temporary));
        if (spec.Kind == PredictionKind.MulticlassClassification)
        {
            var names = spec.ClassNames;
            var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(grp => grp.Count() > 1);
            if (duplicate is not null || names.Any(string.IsNullOrEmpty))
                throw new NotSupportedException(
                    $"The model's class names {(duplicate is not null ? $"repeat '{duplicate.Key}'" : "include an empty name")}; " +
                    "saving inside an ML.NET model rebuilds PredictedLabel's key from the names, so they must be distinct and non-empty.");
            var keyData = ml.Data.LoadFromEnumerable(names.Select(n => new KeyRow { Value = n }));
            estimator = estimator.Append(ml.Transforms.Conversion.MapValueToKey(ColumnNames.PredictedLabel, ColumnNames.PredictedLabel, keyData: keyData));
        }
        return estimator.Fit(empty);
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

// The CustomMapping factories that turn the single-row graph's one-element outputs into scalar columns.
// Their contract names are stored in saved ML.NET models: never rename them.

/// <summary>Binary: one-element Score, Probability and PredictedLabel vectors → scalar columns.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class BinaryColumnsFactory : CustomMappingFactory<BinaryColumnsFactory.Vectors, BinaryColumnsFactory.Scalars>
{
    public const string Contract = "MLNetDeep.Onnx.BinaryColumns";

    public override Action<Vectors, Scalars> GetMapping() => (v, s) =>
    {
        s.Score = v.Score[0];
        s.Probability = v.Probability[0];
        s.PredictedLabel = v.PredictedLabel[0];
    };

    public sealed class Vectors
    {
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.Score), VectorType(1)] public float[] Score { get; set; } = Array.Empty<float>();
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.Probability), VectorType(1)] public float[] Probability { get; set; } = Array.Empty<float>();
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.PredictedLabel), VectorType(1)] public bool[] PredictedLabel { get; set; } = Array.Empty<bool>();
    }

    public sealed class Scalars
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }
}

/// <summary>Regression: one-element Score vector → scalar Score.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class RegressionColumnsFactory : CustomMappingFactory<RegressionColumnsFactory.Vectors, RegressionColumnsFactory.Scalars>
{
    public const string Contract = "MLNetDeep.Onnx.RegressionColumns";

    public override Action<Vectors, Scalars> GetMapping() => (v, s) => s.Score = v.Score[0];

    public sealed class Vectors
    {
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.Score), VectorType(1)] public float[] Score { get; set; } = Array.Empty<float>();
    }

    public sealed class Scalars
    {
        public float Score { get; set; }
    }
}

/// <summary>Multiclass: one-element PredictedLabel (class name) vector → scalar text, made a key by MapValueToKey next.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class MulticlassColumnsFactory : CustomMappingFactory<MulticlassColumnsFactory.Vectors, MulticlassColumnsFactory.Scalars>
{
    public const string Contract = "MLNetDeep.Onnx.MulticlassColumns";

    public override Action<Vectors, Scalars> GetMapping() => (v, s) => s.PredictedLabel = v.PredictedLabel[0];

    public sealed class Vectors
    {
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.PredictedLabel), VectorType(1)] public string[] PredictedLabel { get; set; } = Array.Empty<string>();
    }

    public sealed class Scalars
    {
        public string PredictedLabel { get; set; } = "";
    }
}
