using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

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
        OnnxRuntimeNatives.EnsureAvailable("Saving an MLNetDeep model inside an ML.NET model (mlContext.Model.Save, ToOnnxTransformer)");
        var ml = mlContext ?? new MLContext();
        var description = model.Description;
        var spec = description.Head;
        string feature = model.FeatureColumnName;
        bool tagging = spec.Kind == PredictionKind.SequenceTagging;

        // Fixed-size rows (images, fixed-length numeric sequences): the single-row graph reads the feature column itself.
        // Variable-length rows (token or numeric sequences): a pad mapping makes them fixed-width first (PaddedRow graph).
        var form = OnnxGraphForm.SingleRow;
        int width;
        DataViewType featureType;
        var temporary = new List<string>();
        var steps = new List<IEstimator<ITransformer>>();
        int? fixedWidth = description.Architecture.Layout switch
        {
            Data.FixedShapeLayout layout => checked((int)layout.Size),
            Data.NumericSequenceLayout when !tagging => description.FeatureVectorSize,
            _ => null,
        };
        bool singleRow = fixedWidth is not null;
        if (fixedWidth is int known)
        {
            width = known;
            featureType = new VectorDataViewType(NumberDataViewType.Single, width);
        }
        else if (description.Architecture.Layout is Data.SequenceLayout sequence)
        {
            form = OnnxGraphForm.PaddedRow;
            width = PaddedWidth(description, sequence);
            featureType = sequence is Data.TokenSequenceLayout tokens
                ? new VectorDataViewType(tokens.KeyCount is int keys ? new KeyDataViewType(typeof(uint), keys) : NumberDataViewType.UInt32)
                : new VectorDataViewType(NumberDataViewType.Single);
            // The row as Single values under a fixed name (token keys as their ids 1..K, 0 = unknown; ConvertType refuses
            // keys, a CustomMapping reads them as UInt32), then padded to the graph's width.
            if (sequence is Data.TokenSequenceLayout)
            {
                steps.Add(ml.Transforms.CopyColumns(TokenIdsFactory.InputColumn, feature));
                steps.Add(ml.Transforms.CustomMapping(new TokenIdsFactory().GetMapping(), TokenIdsFactory.Contract));
                temporary.Add(TokenIdsFactory.InputColumn);
            }
            else steps.Add(ml.Transforms.Conversion.ConvertType(SequencePadding.InputColumn, feature, DataKind.Single));
            steps.Add(SequencePadding.Estimator(ml, width, SequenceOnnxExporter.PadsKeepEnd(sequence)));
            temporary.AddRange(new[] { SequencePadding.InputColumn, OnnxNames.PaddedValues, OnnxNames.ValueCount });
        }
        else throw new NotSupportedException(
            $"An MLNetDeep model with a {description.Architecture.Layout.GetType().Name} input can't be saved with mlContext.Model.Save. " +
            "Save it with DeepTransformer.Save(path).");

        if (singleRow)
        {
            // The graph reads Single; the column may hold Double, Byte or Int32 (MLNetDeep trains on any of them).
            steps.Add(ml.Transforms.Conversion.ConvertType(FixedInputColumn, feature, DataKind.Single));
            temporary.Add(FixedInputColumn);
        }
        var outputs = OnnxExporter.GraphOutputNames(spec.Kind, form);
        byte[] bytes = OnnxExporter.ToBytes(model, new OnnxExportOptions { InputName = singleRow ? FixedInputColumn : null }, form, width);
        var inputs = form == OnnxGraphForm.PaddedRow ? new[] { OnnxNames.PaddedValues, OnnxNames.ValueCount } : new[] { FixedInputColumn };
        steps.Add(ml.Transforms.ApplyOnnxModel(outputs, inputs, new MemoryStream(bytes)));

        // An empty view with the feature column is enough to fit: none of these transforms learns from data.
        var empty = ((VectorDataViewType)featureType).ItemType.RawType == typeof(uint)
            ? EmptyView<UInt32FeatureRow>(ml, feature, featureType)
            : EmptyView<FeatureRow>(ml, feature, featureType);

        // ML.NET 5.0.1's OnnxTransformer can't read rank-0 outputs, so per-row scalars come out as one-element
        // vectors; a CustomMapping (contract below, found by name when the model is loaded) makes them scalars.
        temporary.AddRange(outputs.Where(o => o.StartsWith(OnnxExporter.SingleRowScalarPrefix, StringComparison.Ordinal)));
        steps.Add(spec.Kind switch
        {
            PredictionKind.SequenceTagging => ml.Transforms.CustomMapping(new TagColumnsFactory().GetMapping(), TagColumnsFactory.Contract),
            PredictionKind.BinaryClassification => ml.Transforms.CustomMapping(new BinaryColumnsFactory().GetMapping(), BinaryColumnsFactory.Contract),
            PredictionKind.Regression => ml.Transforms.CustomMapping(new RegressionColumnsFactory().GetMapping(), RegressionColumnsFactory.Contract),
            _ => ml.Transforms.CustomMapping(new MulticlassColumnsFactory().GetMapping(), MulticlassColumnsFactory.Contract),
        });
        steps.Add(ml.Transforms.DropColumns(temporary.ToArray()));
        if (spec.Kind is PredictionKind.MulticlassClassification or PredictionKind.SequenceTagging)
        {
            var names = spec.ClassNames;
            var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(grp => grp.Count() > 1);
            if (duplicate is not null || names.Any(string.IsNullOrEmpty))
                throw new NotSupportedException(
                    $"The model's class names {(duplicate is not null ? $"repeat '{duplicate.Key}'" : "include an empty name")}; " +
                    "saving inside an ML.NET model rebuilds PredictedLabel's key from the names, so they must be distinct and non-empty.");
            var keyData = ml.Data.LoadFromEnumerable(names.Select(n => new KeyRow { Value = n }));
            steps.Add(ml.Transforms.Conversion.MapValueToKey(ColumnNames.PredictedLabel, ColumnNames.PredictedLabel, keyData: keyData));
        }
        // Output columns the trainer's options renamed (ScoreColumnName, ...): the same values under the model's names.
        var head = TaskHead.For(spec.Kind);
        var renamed = head.OutputColumns.Where(c => spec.Columns.NameOf(c) != new OutputColumnNames().NameOf(c)).ToList();
        if (renamed.Count > 0)
        {
            foreach (var c in renamed) steps.Add(ml.Transforms.CopyColumns(spec.Columns.NameOf(c), new OutputColumnNames().NameOf(c)));
            steps.Add(ml.Transforms.DropColumns(renamed.Select(c => new OutputColumnNames().NameOf(c)).ToArray()));
        }
        return FitInOrder(steps, empty);
    }

    /// <summary>The single-row graph's input column: the feature column converted to Single.</summary>
    internal const string FixedInputColumn = "__MLNetDeep_Features";

    /// <summary>
    /// The padded width for a variable-length sequence model: MaxLength × values per step, or without a MaxLength the
    /// longest training row; rounded up to the next pad-mapping width.
    /// </summary>
    internal static int PaddedWidth(Persistence.ModelDescription description, Data.SequenceLayout sequence)
    {
        long values = sequence.MaxLength is int max
            ? (long)max * sequence.ValuesPerStep
            : description.LongestRowValues ?? throw new NotSupportedException(
                "This variable-length sequence model has no MaxLength and its file doesn't record the longest training row, so the " +
                "fixed input width that ML.NET's OnnxTransformer needs is unknown. Retrain with MaxLength set (rows longer than it are " +
                "cut as Truncation says), then save.");
        return SequencePadding.WidthFor(values) ?? throw new NotSupportedException(
            $"Rows of up to {values} values (MaxLength × values per step, or the longest training row) are wider than the largest " +
            $"pad mapping ({SequencePadding.Widths[^1]} values) for a saved ML.NET model. Set a smaller MaxLength, or export with " +
            "ExportToOnnx and score with ONNX Runtime directly (the batch graph takes any length).");
    }

    /// <summary>
    /// Fits the steps one by one into a flat chain. EstimatorChain.Fit would first propagate SchemaShapes, where
    /// CustomMapping's rule is stricter than its transformer's (it refuses a key vector for the UInt32[] property
    /// that the transformer reads fine, saved and loaded).
    /// </summary>
    private static ITransformer FitInOrder(IEnumerable<IEstimator<ITransformer>> steps, IDataView data)
    {
        var fitted = new List<ITransformer>();
        foreach (var step in steps)
        {
            var transformer = step.Fit(data);
            fitted.Add(transformer);
            data = transformer.Transform(data);
        }
        return new TransformerChain<ITransformer>(fitted.ToArray());
    }

    private static IDataView EmptyView<TRow>(MLContext ml, string column, DataViewType type) where TRow : class
    {
        var definition = SchemaDefinition.Create(typeof(TRow));
        definition[0].ColumnName = column;
        definition[0].ColumnType = type;
        return ml.Data.LoadFromEnumerable(Array.Empty<TRow>(), definition);
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    private sealed class UInt32FeatureRow
    {
        public uint[] Features { get; set; } = Array.Empty<uint>();
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

/// <summary>Tagging: per-step outputs padded to the graph's most steps → the row's own steps (variable-length vectors).</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class TagColumnsFactory : CustomMappingFactory<TagColumnsFactory.Padded, TagColumnsFactory.Trimmed>
{
    public const string Contract = "MLNetDeep.Onnx.TagColumns";

    public override Action<Padded, Trimmed> GetMapping() => (p, t) =>
    {
        int steps = checked((int)p.Steps[0]);
        int classes = p.PredictedLabel.Length == 0 ? 0 : p.Score.Length / p.PredictedLabel.Length;
        t.Score = p.Score.AsSpan(0, steps * classes).ToArray();
        t.PredictedLabel = p.PredictedLabel.AsSpan(0, steps).ToArray();
    };

    public sealed class Padded
    {
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.Score)] public float[] Score { get; set; } = Array.Empty<float>();
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + ColumnNames.PredictedLabel)] public string[] PredictedLabel { get; set; } = Array.Empty<string>();
        [ColumnName(OnnxExporter.SingleRowScalarPrefix + OnnxExporter.TaggedSteps), VectorType(1)] public long[] Steps { get; set; } = new long[1];
    }

    public sealed class Trimmed
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public string[] PredictedLabel { get; set; } = Array.Empty<string>();
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
