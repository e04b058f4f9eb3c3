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
            networkInput = SequenceOnnxExporter.PaddedFrontEnd(g, sequence, inputName, count, paddedWidth);
        }

        string raw;
        using (no_grad())
        {
            var ctx = new OnnxExportContext(g, options, arch, model.Network) { InputPreTruncated = padded };
            raw = exporter.Emit(ctx, networkInput);
        }
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

    /// <summary>The graph's outputs for a task, in order: the transformer's output columns.</summary>
    public static string[] OutputNames(PredictionKind kind) => kind switch
    {
        PredictionKind.MulticlassClassification => new[] { OnnxNames.Score, OnnxNames.PredictedLabel },
        PredictionKind.BinaryClassification => new[] { OnnxNames.Score, OnnxNames.Probability, OnnxNames.PredictedLabel },
        PredictionKind.Regression => new[] { OnnxNames.Score },
        PredictionKind.SequenceTagging => new[] { OnnxNames.Score, OnnxNames.PredictedLabel },
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The graph's output names for <paramref name="form"/>.</summary>
    internal static string[] GraphOutputNames(PredictionKind kind, OnnxGraphForm form) =>
        kind == PredictionKind.SequenceTagging && form == OnnxGraphForm.PaddedRow
            ? new[] { SingleRowScalarPrefix + OnnxNames.Score, SingleRowScalarPrefix + OnnxNames.PredictedLabel, SingleRowScalarPrefix + TaggedSteps }
            : OutputNames(kind).Select(n => OutputName(kind, n, form)).ToArray();

    /// <summary>Padded tagging graph: the output holding the row's number of tagged (kept) steps.</summary>
    internal const string TaggedSteps = "Steps";

    private static string OutputName(PredictionKind kind, string column, OnnxGraphForm form) =>
        form != OnnxGraphForm.Batch && !(kind == PredictionKind.MulticlassClassification && column == OnnxNames.Score)
            ? SingleRowScalarPrefix + column
            : column;

    /// <summary>Raw network output [N, outputs] → the task's outputs, exactly as the transformer's output columns.</summary>
    /// <param name="maxSteps">Padded tagging graph: the most steps a row can keep (the per-step outputs' padded length).</param>
    private static void EmitHead(OnnxGraphBuilder g, HeadSpec spec, string raw, OnnxGraphForm form, long? maxSteps = null)
    {
        bool batch = form == OnnxGraphForm.Batch;
        object n = batch ? "N" : 1L;
        var rowShape = new List<object> { n }; // one value per row
        string Name(string column) => OutputName(spec.Kind, column, form);
        string ToRow(string value, string output) => g.Node("Reshape",
            new[] { value, g.Int64Constant("shape_rows", new long[] { -1 }, 1) }, new[] { output })[0];

        switch (spec.Kind)
        {
            case PredictionKind.MulticlassClassification:
            {
                int k = spec.ClassNames.Length;
                var probs = batch
                    ? g.Node("Softmax", new[] { raw }, new[] { OnnxNames.Score }, Int("axis", 1))[0]
                    : g.Node("Softmax", new[] { raw }, "probabilities", Int("axis", 1));
                if (!batch) g.Node("Reshape", new[] { probs, g.Int64Constant("shape_classes", new long[] { k }, 1) }, new[] { OnnxNames.Score });
                var index = g.Node("ArgMax", new[] { probs }, "predicted_index", Int("axis", 1), Int("keepdims", 0));
                var classes = g.StringConstant("class_names", spec.ClassNames, k);
                g.Node("Gather", new[] { classes, index }, new[] { Name(OnnxNames.PredictedLabel) }, Int("axis", 0));
                g.Graph.Outputs.Add(Output(OnnxNames.Score, OnnxDataType.Float, batch ? new List<object> { n, (long)k } : new List<object> { (long)k },
                    "Class probabilities (softmax), in the order of the metadata's class names."));
                g.Graph.Outputs.Add(Output(Name(OnnxNames.PredictedLabel), OnnxDataType.String, rowShape, "Name of the most probable class."));
                break;
            }
            case PredictionKind.BinaryClassification:
            {
                var score = ToRow(raw, Name(OnnxNames.Score));
                g.Node("Sigmoid", new[] { score }, new[] { Name(OnnxNames.Probability) });
                g.Node("Greater", new[] { score, g.FloatConstant("zero", 0f) }, new[] { Name(OnnxNames.PredictedLabel) });
                g.Graph.Outputs.Add(Output(Name(OnnxNames.Score), OnnxDataType.Float, rowShape, "Raw margin (logit); positive means the True class."));
                g.Graph.Outputs.Add(Output(Name(OnnxNames.Probability), OnnxDataType.Float, rowShape, "Probability of the True class (sigmoid of Score)."));
                g.Graph.Outputs.Add(Output(Name(OnnxNames.PredictedLabel), OnnxDataType.Bool, rowShape, "Score > 0."));
                break;
            }
            case PredictionKind.Regression:
            {
                var scaled = g.Node("Mul", new[] { raw, g.FloatConstant("label_scale", (float)spec.LabelScale) }, "scaled");
                var shifted = g.Node("Add", new[] { scaled, g.FloatConstant("label_mean", (float)spec.LabelMean) }, "prediction");
                ToRow(shifted, Name(OnnxNames.Score));
                g.Graph.Outputs.Add(Output(Name(OnnxNames.Score), OnnxDataType.Float, rowShape, "Prediction in label units (network output × label scale + label mean)."));
                break;
            }
            case PredictionKind.SequenceTagging when form == OnnxGraphForm.PaddedRow:
                PaddedTaggingHead(g, spec, raw, maxSteps ?? throw new InvalidOperationException("maxSteps is required for the padded tagging head."));
                break;
            case PredictionKind.SequenceTagging:
            {
                // raw [N, T, K] (one output per step) → per-step probabilities and class names; padded steps are to be ignored.
                int k = spec.ClassNames.Length;
                var probs = g.Node("Softmax", new[] { raw }, new[] { OnnxNames.Score }, Int("axis", 2))[0];
                var index = g.Node("ArgMax", new[] { probs }, "predicted_index", Int("axis", 2), Int("keepdims", 0));
                var classes = g.StringConstant("class_names", spec.ClassNames, k);
                g.Node("Gather", new[] { classes, index }, new[] { OnnxNames.PredictedLabel }, Int("axis", 0));
                g.Graph.Outputs.Add(Output(OnnxNames.Score, OnnxDataType.Float, new List<object> { n, "Steps", (long)k },
                    "Per-step tag probabilities (softmax), in the order of the metadata's class names; steps past a row's length are padding."));
                g.Graph.Outputs.Add(Output(OnnxNames.PredictedLabel, OnnxDataType.String, new List<object> { n, "Steps" },
                    "Per-step name of the most probable tag; steps past a row's length are padding."));
                break;
            }
            default:
                throw new OnnxExportException("the task head", $"prediction kind {spec.Kind} is not exportable.");
        }
    }

    /// <summary>
    /// One row's per-step outputs at fixed sizes (ML.NET's OnnxTransformer declares known-size vectors only): raw
    /// [1, T, K] → probabilities [S·K] and tag names [S], zero-padded (names: the first tag) from the row's T kept steps
    /// to S = <paramref name="maxSteps"/>, and T itself; MLNetDeep.Onnx's tag mapping cuts them back to T.
    /// </summary>
    private static void PaddedTaggingHead(OnnxGraphBuilder g, HeadSpec spec, string raw, long maxSteps)
    {
        int k = spec.ClassNames.Length;
        string Pad(string flat, string real, long full, string hint)
        {
            var missing = g.Node("Sub", new[] { g.Int64Constant($"{hint}_full", new long[] { full }, 1), real }, $"{hint}_missing");
            var pads = g.Node("Concat", new[] { g.Int64Constant("zero_1", new long[] { 0 }, 1), missing }, $"{hint}_pads", Int("axis", 0));
            return g.Node("Pad", new[] { flat, pads }, $"{hint}_padded");
        }
        var flatShape = g.Int64Constant("shape_flat", new long[] { -1 }, 1);
        var probs = g.Node("Softmax", new[] { raw }, "step_probabilities", Int("axis", 2));                              // [1, T, K]
        var index = g.Node("Reshape", new[] { g.Node("ArgMax", new[] { probs }, "predicted_index", Int("axis", 2), Int("keepdims", 0)), flatShape }, "step_index"); // [T]
        var steps = g.Node("Shape", new[] { index }, new[] { SingleRowScalarPrefix + TaggedSteps })[0];                  // [1] = T
        var values = g.Node("Mul", new[] { steps, g.Int64Constant("classes_1", new long[] { k }, 1) }, "step_values"); // [1] = T·K
        g.Node("Identity", new[] { Pad(g.Node("Reshape", new[] { probs, flatShape }, "step_probabilities_flat"), values, maxSteps * k, "scores") },
            new[] { SingleRowScalarPrefix + OnnxNames.Score });
        var classes = g.StringConstant("class_names", spec.ClassNames, k);
        g.Node("Gather", new[] { classes, Pad(index, steps, maxSteps, "labels") }, new[] { SingleRowScalarPrefix + OnnxNames.PredictedLabel }, Int("axis", 0));
        g.Graph.Outputs.Add(Output(SingleRowScalarPrefix + OnnxNames.Score, OnnxDataType.Float, new List<object> { maxSteps * k },
            $"Per-step tag probabilities, step-major, padded with zeros to {maxSteps} steps."));
        g.Graph.Outputs.Add(Output(SingleRowScalarPrefix + OnnxNames.PredictedLabel, OnnxDataType.String, new List<object> { maxSteps },
            $"Per-step tag names, padded to {maxSteps} steps."));
        g.Graph.Outputs.Add(Output(SingleRowScalarPrefix + TaggedSteps, OnnxDataType.Int64, new List<object> { 1L }, "The row's number of tagged steps."));
    }

    private static ValueInfoProto Output(string name, OnnxDataType type, List<object> shape, string doc) =>
        new() { Name = name, ElemType = type, Shape = shape, DocString = doc };
}
