using System.Text.Json;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.Persistence;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Onnx;

/// <summary>The shape of the written graph's inputs and outputs.</summary>
internal enum OnnxGraphForm
{
    /// <summary>Dynamic batch: input [N, features], outputs [N, ...]. What <c>ExportToOnnx</c> writes.</summary>
    Batch,
    /// <summary>
    /// One row per run, for ML.NET's OnnxTransformer inside a saved ML.NET model: input [1, features],
    /// multiclass Score as [classes] (a known-size vector column), and every per-row scalar output as a
    /// one-element tensor named with <see cref="OnnxExporter.SingleRowScalarPrefix"/> (ML.NET 5.0.1's
    /// OnnxTransformer can't read rank-0 outputs; MLNetDeep.Onnx turns these into scalar columns).
    /// </summary>
    SingleRow,
    /// <summary>
    /// One variable-length sequence row per run, padded to a fixed width by MLNetDeep.Onnx's pad mapping (ML.NET's
    /// OnnxTransformer feeds known-size vectors only): inputs <see cref="OnnxNames.PaddedValues"/> [1, width] float and
    /// <see cref="OnnxNames.ValueCount"/> [1] int32 (the row's real number of values); outputs as <see cref="SingleRow"/>.
    /// </summary>
    PaddedRow,
}

/// <summary>Builds the ONNX model of a trained <see cref="DeepTransformer"/>: input, family network, task head, metadata.</summary>
internal static class OnnxExporter
{
    /// <summary>Prefix of the single-row graph's one-element outputs that stand for scalar columns.</summary>
    internal const string SingleRowScalarPrefix = "__MLNetDeep_";

    /// <summary>Serialises the model for <paramref name="form"/>.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="options">Export options (opset, input name, ...); null = defaults.</param>
    /// <param name="form">Batch graph, or one of the single-row graphs saved inside ML.NET models.</param>
    /// <param name="rowValues">Single-row forms: the fixed input width (values per row; for <see cref="OnnxGraphForm.PaddedRow"/> the padded width).</param>
    public static byte[] ToBytes(DeepTransformer model, OnnxExportOptions? options, OnnxGraphForm form, int? rowValues = null)
        => ProtoWriter.Serialize(Build(model, options ?? new OnnxExportOptions(), form, rowValues));

    /// <summary>Writes to a file through a temporary file renamed into place.</summary>
    public static void WriteAtomic(string path, byte[] bytes) => AtomicFile.WriteAllBytes(path, bytes);

    public static ModelProto Build(DeepTransformer model, OnnxExportOptions options, OnnxGraphForm form, int? rowValues = null)
    {
        options.Validate();
        var description = model.Description;
        var spec = description.Head;
        var arch = description.Architecture;
        if (model.Head.SingleGraphOnnxUnsupported(spec) is string why) throw new OnnxExportException($"this {spec.Kind} model", why);
        var exporter = OnnxExporterRegistry.For(arch);
        if (spec.Kind == PredictionKind.SequenceTagging && form == OnnxGraphForm.SingleRow)
            throw new OnnxExportException("the sequence-tagging head",
                "a tagger's outputs are one per step; only the padded single-row graph (or the batch graph) can declare them.");
        var g = new OnnxGraphBuilder(options.Opset);

        bool padded = form == OnnxGraphForm.PaddedRow;
        if (form != OnnxGraphForm.Batch && options.SequenceLengthsInput)
            throw new OnnxExportException("the graph input", "SequenceLengthsInput applies to the batch graph only.");
        string inputName = padded ? OnnxNames.PaddedValues : options.InputName ?? description.FeatureColumnName;
        var outputs = GraphOutputNames(spec.Kind, form);
        if (outputs.Contains(inputName, StringComparer.Ordinal))
            throw new OnnxExportException("the graph input",
                $"its name '{inputName}' is also an output name ({string.Join(", ", outputs)}). Set OnnxExportOptions.InputName to another name.");
        g.Reserve(inputName);
        foreach (var o in outputs) g.Reserve(o);

        object batch = form == OnnxGraphForm.Batch ? "N" : 1L;
        var rowDims = form != OnnxGraphForm.Batch && rowValues is int width ? new object[] { (long)width } : exporter.InputDims(arch);
        if (form != OnnxGraphForm.Batch && rowDims.Any(d => d is string))
            throw new OnnxExportException("the graph input",
                "ML.NET's OnnxTransformer needs a known input width, and this model's rows have no fixed size.");
        g.Graph.Inputs.Add(new ValueInfoProto
        {
            Name = inputName,
            ElemType = OnnxDataType.Float,
            Shape = new List<object> { batch }.Concat(rowDims).ToList(),
            DocString = $"Feature vectors as in the '{description.FeatureColumnName}' column ({arch.Layout switch
            {
                Data.FixedShapeLayout f => $"{string.Join("x", f.Shape)} {f.ShapeDescription}, flattened row-major",
                _ => "one row per batch entry",
            }}).",
        });

        string networkInput = inputName;
        if (description.ByteScaling is { } bytes) // the model was trained on a Byte column, scaled: the graph scales its input the same way
        {
            networkInput = g.Node("Mul", new[] { networkInput, g.FloatConstant("byte_scale", bytes.Scale) }, "byte_scaled");
            if (bytes.Offset != 0) networkInput = g.Node("Add", new[] { networkInput, g.FloatConstant("byte_offset", bytes.Offset) }, "byte_shifted");
        }
        if (padded)
        {
            if (arch.Layout is not Data.SequenceLayout sequence || rowValues is not int paddedWidth)
                throw new OnnxExportException("the graph input", "the padded single-row form is for sequence models, with a padded width.");
            var count = g.Reserve(OnnxNames.ValueCount);
            g.Graph.Inputs.Add(new ValueInfoProto
            {
                Name = count,
                ElemType = OnnxDataType.Int32,
                Shape = new List<object> { 1L },
                DocString = $"Real number of values in the row (steps × {sequence.ValuesPerStep}); the rest of {inputName} is padding.",
            });
            networkInput = SequenceOnnxExporter.PaddedFrontEnd(g, sequence, networkInput, count, paddedWidth);
        }

        string raw;
        using (no_grad())
        {
            var ctx = new OnnxExportContext(g, options, arch, model.Network) { InputPreTruncated = padded || options.InputPreTruncated };
            raw = exporter.Emit(ctx, networkInput);
        }
        // Non-finite inputs give NaN outputs in every family, as the CNN's convolutions do by themselves (a recurrent
        // graph can turn a NaN row into plausible scores). The transformer refuses such rows; a graph can only say NaN.
        if (arch.Layout is not Data.TokenSequenceLayout) raw = NanGuard(g, inputName, raw, spec.Kind == PredictionKind.SequenceTagging ? 3 : 2);
        long? maxSteps = null;
        if (padded && arch.Layout is Data.SequenceLayout kept)
            maxSteps = Math.Min(rowValues!.Value / kept.ValuesPerStep, kept.MaxLength ?? int.MaxValue);
        EmitHead(g, spec, raw, form, maxSteps);

        var proto = new ModelProto
        {
            IrVersion = OnnxExportOptions.IrVersionFor(options.Opset),
            ProducerName = "MLNetDeep",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            ModelVersion = options.ModelVersion,
            DocString = options.Description ?? $"MLNetDeep {arch.GetType().Name.Replace("Architecture", "")} {spec.Kind} model.",
            Graph = g.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto("", options.Opset));
        g.Graph.Name = $"MLNetDeep_{arch.GetType().Name.Replace("Architecture", "")}";
        proto.MetadataProps.Add((OnnxNames.PredictionKindKey, spec.Kind.ToString()));
        if (spec.Kind != PredictionKind.Regression)
        {
            var names = spec.Kind == PredictionKind.BinaryClassification ? new[] { "False", "True" } : spec.ClassNames;
            proto.MetadataProps.Add((OnnxNames.ClassNamesKey, JsonSerializer.Serialize(names)));
        }
        else
        {
            proto.MetadataProps.Add((OnnxNames.LabelScalingKey,
                FormattableString.Invariant($"{spec.LabelMean:R};{spec.LabelScale:R}")));
        }
        proto.MetadataProps.Add((OnnxNames.FeatureColumnKey, description.FeatureColumnName));
        if (arch.Layout is Data.FixedShapeLayout fixedLayout)
            proto.MetadataProps.Add((OnnxNames.InputShapeKey, string.Join("x", fixedLayout.Shape)));
        proto.MetadataProps.Add((OnnxNames.OutputsKey, string.Join(",", outputs)));
        proto.MetadataProps.Add((OnnxNames.ArchitectureKey, JsonSerializer.Serialize(arch, Json.Options)));
        return proto;
    }

    /// <summary>
    /// raw + 0 · Σ(row's inputs): unchanged for finite rows, NaN everywhere for a row with a NaN or infinite value.
    /// <paramref name="rank"/> is raw's rank (2: [N, outputs]; 3: [N, T, outputs]).
    /// </summary>
    private static string NanGuard(OnnxGraphBuilder g, string input, string raw, int rank)
    {
        var sum = g.Node("ReduceSum", new[] { input, g.Int64Constant("axes_1", new long[] { 1 }, 1) }, "row_input_sum", Int("keepdims", 1)); // [N, 1]
        var zeroOrNan = g.Node("Mul", new[] { sum, g.FloatConstant("zero_times", 0f) }, "zero_or_nan_per_row");
        if (rank == 3) zeroOrNan = g.Node("Unsqueeze", new[] { zeroOrNan, g.Int64Constant("axes_2", new long[] { 2 }, 1) }, "zero_or_nan_per_row_3d");
        return g.Node("Add", new[] { raw, zeroOrNan }, "raw_nan_guarded");
    }

    /// <summary>The graph's outputs for a task, in order: the transformer's output columns (the task head declares them).</summary>
    public static string[] OutputNames(PredictionKind kind) => TaskHead.For(kind).OutputColumns.Select(OnnxNames.Of).ToArray();

    /// <summary>The graph's output names for <paramref name="form"/>.</summary>
    internal static string[] GraphOutputNames(PredictionKind kind, OnnxGraphForm form) => TaskHead.For(kind).OnnxOutputNames(form);

    /// <summary>Padded tagging graph: the output holding the row's number of tagged (kept) steps.</summary>
    internal const string TaggedSteps = "Steps";

    /// <summary>Raw network output [N, outputs] → the task's outputs, exactly as the transformer's output columns (written by the task head).</summary>
    /// <param name="g">The graph being built.</param>
    /// <param name="spec">The task spec (classes, label scaling).</param>
    /// <param name="raw">The network's raw output.</param>
    /// <param name="form">The graph form.</param>
    /// <param name="maxSteps">Padded tagging graph: the most steps a row can keep (the per-step outputs' padded length).</param>
    private static void EmitHead(OnnxGraphBuilder g, HeadSpec spec, string raw, OnnxGraphForm form, long? maxSteps = null) =>
        TaskHead.For(spec.Kind).EmitOnnx(new OnnxHeadWriter(g, spec, raw, form, maxSteps));

    private static ValueInfoProto Output(string name, OnnxDataType type, List<object> shape, string doc) =>
        new() { Name = name, ElemType = type, Shape = shape, DocString = doc };
}
