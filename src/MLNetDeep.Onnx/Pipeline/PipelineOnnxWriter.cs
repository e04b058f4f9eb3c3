using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>
/// Builds one ONNX graph from a fitted pipeline: the chain is flattened into steps and the schema before each step is
/// computed; each ML.NET step is converted alone by ML.NET's converter (<see cref="MLNetStepConverter"/>), each
/// MLNetDeep model by MLNetDeep's exporter (batch graph); the step graphs are merged into one (<see cref="PipelineGraph"/>),
/// their inputs bound to the values holding the columns they read, and what the outputs don't need is pruned.
/// Columns travel as ML.NET's converter writes them (<see cref="ColumnTensors"/>): rank-2 tensors, keys as UInt32 ids.
/// </summary>
internal sealed class PipelineOnnxWriter
{
    private enum Origin { Input, Computed, BeforeStart, Failed }

    /// <summary>Where a visible column's values are in the graph being built.</summary>
    private sealed class Slot
    {
        public required string Column;
        public required DataViewType Type;
        public required Origin Origin;
        /// <summary>The step that last wrote it (-1 for the pipeline's input).</summary>
        public int Step = -1;
        public string? Value;
        public OnnxDataType Elem;
    }

    private readonly ModelOperationsCatalog _catalog;
    private readonly PipelineOnnxOptions _options;
    private readonly List<ITransformer> _steps = new();
    private readonly List<DataViewSchema> _schemas = new();
    private readonly List<List<string>> _written = new();
    private readonly Dictionary<string, Slot> _env = new(StringComparer.Ordinal);
    private readonly List<(int Step, MLNetStepConverter.StepFailure Failure)> _failures = new();
    private readonly List<(int Reader, string Column, int Writer, Origin Origin)> _reads = new();
    private PipelineGraph _g = null!;
    private object _batch = "N";

    public PipelineOnnxWriter(ModelOperationsCatalog catalog, PipelineOnnxOptions options)
    {
        _catalog = catalog;
        _options = options;
    }

    public PipelineOnnxModel Write(ITransformer model, DataViewSchema input)
    {
        Flatten(model, _steps);
        _schemas.Add(input);
        for (int i = 0; i < _steps.Count; i++)
        {
            DataViewSchema next;
            try { next = _steps[i].GetOutputSchema(_schemas[i]); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new PipelineOnnxException(
                    $"Step {i} ({Name(_steps[i])}) does not accept the schema it gets from the data passed in ({e.Message}). " +
                    "Pass the data (or a view with the schema) the pipeline was fitted on.", i, inner: e);
            }
            _schemas.Add(next);
            _written.Add(Written(_schemas[i], next));
        }
        var final = _schemas[^1];
        int start = StartStep();
        var outputs = OutputColumns(final, start);

        _g = new PipelineGraph(_options.Opset);
        _batch = Enumerable.Range(start, _schemas.Count - start).Any(s => _schemas[s].Any(c => !c.IsHidden && ColumnTensors.IsVariableSize(c.Type))) ? 1L : "N";
        foreach (var c in _schemas[start].Where(c => !c.IsHidden))
        {
            int writer = LastWriter(c.Name, start);
            bool asInput = writer < 0 || (_options.InputColumns?.Contains(c.Name, StringComparer.Ordinal) ?? false);
            _env[c.Name] = new Slot { Column = c.Name, Type = c.Type, Origin = asInput ? Origin.Input : Origin.BeforeStart, Step = writer };
            if (asInput) _g.Reserve(c.Name);
        }
        var outputNames = outputs.ToDictionary(o => o, o => _env.TryGetValue(o, out var s) && s.Origin == Origin.Input ? o + ".output" : o, StringComparer.Ordinal);
        foreach (var name in outputNames.Values) _g.Reserve(name);

        for (int i = start; i < _steps.Count; i++)
        {
            try
            {
                if (_steps[i] is DeepTransformer deep) AppendModel(i, deep);
                else if (_written[i].Count > 0) AppendMLNet(i);
            }
            catch (MLNetStepConverter.StepFailure failure)
            {
                _failures.Add((i, failure));
                foreach (var c in _written[i]) _env[c] = new Slot { Column = c, Type = _schemas[i + 1][c].Type, Origin = Origin.Failed, Step = i };
            }
            var visible = _schemas[i + 1].Where(c => !c.IsHidden).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _env.Keys.Where(k => !visible.Contains(k)).ToList()) _env.Remove(gone);
        }

        var outputValues = outputs.Select(o => Read(_steps.Count, o)).ToList();
        ThrowProblems(start, outputs);
        var declared = new List<PipelineOnnxColumn>();
        for (int k = 0; k < outputs.Count; k++)
        {
            var column = final[outputs[k]];
            var slot = _env[outputs[k]];
            var expected = ColumnTensors.ElementType(column.Type, column.Name, "is a graph output");
            var value = _g.Cast(outputValues[k], slot.Elem, expected);
            var name = outputNames[outputs[k]];
            var node = new NodeProto { OpType = "Identity", Name = $"output/{name}" };
            node.Inputs.Add(value);
            node.Outputs.Add(name);
            _g.Graph.Nodes.Add(node);
            _g.Graph.Outputs.Add(ColumnTensors.ValueInfo(name, column.Type, column.Name, _batch, ColumnTensors.Describe(column.Type)));
            declared.Add(Describe(_g.Graph.Outputs[^1], column));
        }
        _g.Prune(outputNames.Values);
        _g.DeclareUninferredTypes();
        var inputs = _g.Graph.Inputs.Select(v => Describe(v, _schemas[start][v.Name])).ToList();
        var steps = StepLines(start);
        var proto = new ModelProto
        {
            IrVersion = OnnxExportOptions.IrVersionFor(_options.Opset),
            ProducerName = "MLNetDeep",
            ProducerVersion = typeof(PipelineOnnxWriter).Assembly.GetName().Version?.ToString() ?? "",
            ModelVersion = _options.ModelVersion,
            DocString = _options.Description ?? "ML.NET pipeline exported by MLNetDeep.Onnx: " + string.Join("; ", steps),
            Graph = _g.Graph,
        };
        _g.Graph.Name = "MLNetDeep_Pipeline";
        proto.OpsetImport.AddRange(_g.OpsetImports);
        proto.MetadataProps.Add(("MLNetDeep.PipelineSteps", JsonSerializer.Serialize(steps)));
        proto.MetadataProps.Add(("MLNetDeep.Inputs", JsonSerializer.Serialize(inputs)));
        proto.MetadataProps.Add(("MLNetDeep.Outputs", JsonSerializer.Serialize(declared)));
        proto.MetadataProps.Add(("MLNetDeep.OneRowPerRun", _batch is long ? "true" : "false"));
        foreach (var o in outputs)
        {
            var keys = KeyValues(final[o]);
            if (keys is not null) proto.MetadataProps.Add(($"MLNetDeep.KeyValues.{outputNames[o]}", JsonSerializer.Serialize(keys)));
        }
        return new PipelineOnnxModel(ProtoWriter.Serialize(proto), inputs, declared, _options.Opset, _batch is long, steps);
    }

    // ---- the steps ----

    private static void Flatten(ITransformer t, List<ITransformer> into)
    {
        if (t is not DeepTransformer && t is IEnumerable<ITransformer> chain) foreach (var inner in chain) Flatten(inner, into);
        else into.Add(t);
    }

    private static string Name(ITransformer t) => t is DeepTransformer d
        ? $"MLNetDeep {d.Description.Architecture.GetType().Name.Replace("Architecture", "")} {d.Kind}"
        : t.GetType().Name.Split('`')[0];

    /// <summary>
    /// The visible columns a step writes, in schema order. ML.NET's mappers keep the input columns in order (an overwritten
    /// one stays, hidden) and insert new ones (after their source column, or at the end); DropColumns and SelectColumns
    /// remove some. A column of the output that can't be matched, in order, to an input column of the same name and type
    /// is new.
    /// </summary>
    private static List<string> Written(DataViewSchema before, DataViewSchema after)
    {
        var written = new List<string>();
        int p = 0;
        foreach (var c in after)
        {
            int match = -1;
            for (int j = p; j < before.Count && match < 0; j++)
                if (before[j].Name == c.Name && before[j].Type.Equals(c.Type)) match = j;
            if (match >= 0) p = match + 1;
            else if (!c.IsHidden) written.Add(c.Name);
        }
        return written;
    }

    private int LastWriter(string column, int before)
    {
        for (int i = before - 1; i >= 0; i--) if (_written[i].Contains(column, StringComparer.Ordinal)) return i;
        return -1;
    }

    /// <summary>The first exported step: 0, or just after the step that first writes the last of <see cref="PipelineOnnxOptions.InputColumns"/>.</summary>
    private int StartStep()
    {
        if (_options.InputColumns is null) return 0;
        int start = 0;
        foreach (var c in _options.InputColumns)
        {
            int first = Enumerable.Range(0, _steps.Count).FirstOrDefault(i => _written[i].Contains(c, StringComparer.Ordinal), -1);
            if (first < 0 && _schemas[0].GetColumnOrNull(c) is not { IsHidden: false })
                throw new PipelineOnnxException(
                    $"PipelineOnnxOptions.InputColumns names column '{c}', which neither the data nor any step of the pipeline has. " +
                    $"Received: InputColumns=[{string.Join(", ", _options.InputColumns)}]. Columns the steps write: {string.Join(", ", _written.SelectMany(w => w).Distinct())}.",
                    column: c);
            start = Math.Max(start, first + 1);
        }
        foreach (var c in _options.InputColumns)
            if (_schemas[start].GetColumnOrNull(c) is not { IsHidden: false })
                throw new PipelineOnnxException(
                    $"PipelineOnnxOptions.InputColumns names column '{c}', which is not there after step {start - 1} ({Name(_steps[start - 1])}), where the graph starts " +
                    $"(it is dropped or written later). Received: InputColumns=[{string.Join(", ", _options.InputColumns)}].", start - 1, c);
        return start;
    }

    private List<string> OutputColumns(DataViewSchema final, int start)
    {
        var visible = final.Where(c => !c.IsHidden).Select(c => c.Name).ToList();
        if (_options.OutputColumns is { } chosen)
        {
            foreach (var c in chosen)
                if (!visible.Contains(c, StringComparer.Ordinal))
                    throw new PipelineOnnxException(
                        $"PipelineOnnxOptions.OutputColumns names column '{c}', which the fitted pipeline does not output. " +
                        $"Received: OutputColumns=[{string.Join(", ", chosen)}]. The pipeline's output columns: {string.Join(", ", visible)}.", column: c);
            return chosen.ToList();
        }
        int firstModel = _steps.FindIndex(s => s is DeepTransformer);
        int from = Math.Max(start, firstModel);
        var outputs = visible.Where(c => LastWriter(c, _steps.Count) >= from).ToList();
        if (outputs.Count == 0)
            throw new PipelineOnnxException(
                "The pipeline computes no column from its first MLNetDeep model on (or from the graph's start), so the graph would have no outputs. " +
                $"Set PipelineOnnxOptions.OutputColumns to the columns to export; the pipeline's output columns: {string.Join(", ", visible)}.");
        return outputs;
    }

    // ---- reading and writing columns ----

    /// <summary>The value holding <paramref name="column"/> for step <paramref name="reader"/> (an input is declared on first use).</summary>
    private string Read(int reader, string column)
    {
        if (!_env.TryGetValue(column, out var slot))
            throw new PipelineOnnxException($"Step {reader} reads column '{column}', which is not there at that point of the pipeline.", reader, column);
        _reads.Add((reader, column, slot.Step, slot.Origin));
        switch (slot.Origin)
        {
            case Origin.Input when slot.Value is null:
                _g.Graph.Inputs.Add(ColumnTensors.ValueInfo(column, slot.Type, column, _batch, ColumnTensors.Describe(slot.Type)));
                slot.Value = column;
                slot.Elem = _g.Graph.Inputs[^1].ElemType;
                return column;
            case Origin.Input or Origin.Computed:
                return slot.Value!;
            default:
                return $"__unavailable_{column}"; // reported by ThrowProblems, never written
        }
    }

    private void Write(int step, string column, string value, OnnxDataType elem)
    {
        if (!_written[step].Contains(column, StringComparer.Ordinal)) return; // an output the step's schema doesn't show
        _env[column] = new Slot { Column = column, Type = _schemas[step + 1][column].Type, Origin = Origin.Computed, Step = step, Value = value, Elem = elem };
    }

    private void AppendMLNet(int i)
    {
        var converted = MLNetStepConverter.Convert(_catalog, _steps[i], _schemas[i], _written[i]);
        var graph = converted.Model.Graph;
        OpsetUpgrade.Apply(graph, converted.Opset, _options.Opset);
        var index = graph.Inputs.Select((v, j) => (v.Name, j)).ToDictionary(p => p.Name, p => p.j, StringComparer.Ordinal);
        string Bind(ValueInfoProto input)
        {
            var column = converted.InputSchema[index[input.Name]];
            var value = Read(i, column.Name);
            var slot = _env[column.Name];
            return slot.Origin is Origin.Input or Origin.Computed ? _g.Cast(value, slot.Elem, input.ElemType) : value;
        }
        var outputs = _g.Append(graph, Bind, $"step{i}_{Name(_steps[i])}", converted.Model.OpsetImport);
        for (int k = 0; k < _written[i].Count; k++)
        {
            var o = graph.Outputs[k]; // the converter's outputs, one per written column in order (MLNetStepConverter.Check)
            Write(i, _written[i][k], outputs[o.Name], o.ElemType);
        }
    }

    /// <summary>An MLNetDeep model: its batch graph, fed the feature column as float, with its outputs shaped as the model's columns.</summary>
    private void AppendModel(int i, DeepTransformer model)
    {
        var feature = Read(i, model.FeatureColumnName);
        var featureSlot = _env[model.FeatureColumnName];
        if (featureSlot.Origin is Origin.Input or Origin.Computed) feature = _g.Cast(feature, featureSlot.Elem, OnnxDataType.Float);
        ModelProto proto;
        try { proto = OnnxExporter.Build(model, new OnnxExportOptions { Opset = _options.Opset }, OnnxGraphForm.Batch); }
        catch (OnnxExportException e) { throw new MLNetStepConverter.StepFailure(e.Message, e); }
        var outputs = _g.Append(proto.Graph, _ => feature, $"step{i}_{Name(model)}", proto.OpsetImport);
        var spec = model.Description.Head;
        var columns = spec.Columns;
        string Rows(string value, string hint) =>
            _g.Node("Reshape", new[] { value, _g.Int64Constant("shape_rows_1", new long[] { -1, 1 }, 2) }, hint);
        string KeyIds(string scores, long axis, long keepDims, string hint)
        {
            var index = _g.Node("ArgMax", new[] { scores }, $"{hint}_index", Int("axis", axis), Int("keepdims", keepDims));
            var id = _g.Node("Add", new[] { index, _g.Int64Constant("one", new long[] { 1 }) }, $"{hint}_id");
            return _g.Cast(id, OnnxDataType.Int64, OnnxDataType.UInt32);
        }
        var score = outputs[OnnxNames.Score];
        switch (spec.Kind)
        {
            case PredictionKind.MulticlassClassification:
                Write(i, columns.Score, score, OnnxDataType.Float);
                Write(i, columns.PredictedLabel, KeyIds(score, 1, 1, columns.PredictedLabel), OnnxDataType.UInt32);
                break;
            case PredictionKind.BinaryClassification:
                Write(i, columns.Score, Rows(score, columns.Score), OnnxDataType.Float);
                Write(i, columns.Probability, Rows(outputs[OnnxNames.Probability], columns.Probability), OnnxDataType.Float);
                Write(i, columns.PredictedLabel, Rows(outputs[OnnxNames.PredictedLabel], columns.PredictedLabel), OnnxDataType.Bool);
                break;
            case PredictionKind.Regression:
                Write(i, columns.Score, Rows(score, columns.Score), OnnxDataType.Float);
                break;
            case PredictionKind.SequenceTagging:
                // [rows, steps, tags] → the column's step-major [rows, steps·tags]; keys per step from the arg-max over tags.
                Write(i, columns.Score, _g.Node("Reshape", new[] { score, _g.Int64Constant("shape_rows_flat", new long[] { 0, -1 }, 2) }, columns.Score), OnnxDataType.Float);
                Write(i, columns.PredictedLabel, KeyIds(score, 2, 0, columns.PredictedLabel), OnnxDataType.UInt32);
                break;
            default:
                throw new MLNetStepConverter.StepFailure($"prediction kind {spec.Kind} has no pipeline export");
        }
    }

    // ---- reports ----

    /// <summary>
    /// Steps that could not be converted, or columns the graph would need from before its start: one error naming each
    /// step and column, with the InputColumns that would start the graph after the last failing step.
    /// </summary>
    private void ThrowProblems(int start, IReadOnlyList<string> outputs)
    {
        var beforeStart = _reads.Where(r => r.Origin == Origin.BeforeStart).ToList();
        if (_failures.Count == 0 && beforeStart.Count == 0) return;
        if (_failures.Count == 0)
        {
            var (reader, column, writer, _) = beforeStart[0];
            string who = reader >= _steps.Count ? "The graph's output" : $"Step {reader} ({Name(_steps[reader])})";
            throw new PipelineOnnxException(
                $"{who} reads column '{column}', which step {writer} ({Name(_steps[writer])}) computes before the graph's start (after step {start - 1}). " +
                $"Add '{column}' to PipelineOnnxOptions.InputColumns to feed it as an input too. Received: InputColumns=[{string.Join(", ", _options.InputColumns ?? Array.Empty<string>())}].",
                reader < _steps.Count ? reader : null, column);
        }
        int last = _failures[^1].Step;
        // What a graph starting after the last failing step would need: the columns read after it that it (or a step before it) wrote.
        var needed = _reads.Where(r => r.Reader > last && r.Writer >= 0 && r.Writer <= last).Select(r => r.Column).Distinct().ToList();
        var lines = _failures.Select(f =>
            $"step {f.Step} ({Name(_steps[f.Step])}, writing {string.Join(", ", _written[f.Step].Select(c => $"'{c}'"))}): {f.Failure.Message}");
        string fix = needed.Count > 0
            ? $"To export the rest of the pipeline, start the graph after step {last}: PipelineOnnxOptions.InputColumns = new[] {{ {string.Join(", ", needed.Select(c => $"\"{c}\""))} }} " +
              "(those columns become the graph's inputs; compute them before scoring, e.g. with the fitted pipeline's first steps)."
            : $"No later step reads what step {last} writes: leave its columns out of PipelineOnnxOptions.OutputColumns (outputs: {string.Join(", ", outputs)}).";
        var first = _failures[0];
        throw new PipelineOnnxException(
            $"The pipeline can't be exported as one ONNX graph; ONNX can't express {(_failures.Count == 1 ? "this step" : "these steps")}: {string.Join("; ", lines)}. {fix}",
            first.Step, _written[first.Step].FirstOrDefault(), first.Failure.InnerException ?? first.Failure);
    }

    private List<string> StepLines(int start) => _steps.Select((s, i) =>
        $"{i}: {Name(s)}{(_written[i].Count > 0 ? $" → {string.Join(", ", _written[i])}" : "")}{(i < start ? " (left out: before the graph's start)" : "")}").ToList();

    private PipelineOnnxColumn Describe(ValueInfoProto v, DataViewSchema.Column column) => new(
        v.Name, column.Name, v.ElemType.ToString().ToLowerInvariant(), v.Shape.Select(d => Convert.ToString(d, System.Globalization.CultureInfo.InvariantCulture) ?? "?").ToList(),
        column.Type.ToString() ?? "");

    private static string[]? KeyValues(DataViewSchema.Column column)
    {
        var item = column.Type is VectorDataViewType v ? v.ItemType : column.Type;
        if (item is not KeyDataViewType || column.Annotations.Schema.GetColumnOrNull(ColumnNames.KeyValues) is not { } kv
            || kv.Type is not VectorDataViewType { ItemType: TextDataViewType }) return null;
        VBuffer<ReadOnlyMemory<char>> values = default;
        column.Annotations.GetValue(ColumnNames.KeyValues, ref values);
        return values.DenseValues().Select(m => m.ToString()).ToArray();
    }
}
