using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Onnx.Proto;

namespace MLNetDeep.Onnx;

/// <summary>
/// One ML.NET step as an ONNX graph, through ML.NET's own converter (Microsoft.ML.OnnxConverter), checked for the ways
/// that converter fails quietly. It is given the step alone on a row-less view of the schema before it, and asked for the
/// columns the step writes; its graph declares one input per column of the schema it is shown (in schema order, renamed
/// with suffixes like "Label0" where names repeat) and one output per requested column (named "Column.output").
/// </summary>
internal static class MLNetStepConverter
{
    /// <summary>A converted step: its graph, the default-domain opset it was written at, and the schema it was converted on (keys possibly widened to UInt32).</summary>
    public sealed record Converted(ModelProto Model, long Opset, DataViewSchema InputSchema);

    /// <summary>Why a step could not be converted (collected, then reported together with the fix).</summary>
    public sealed class StepFailure(string reason, Exception? inner = null) : Exception(reason, inner);

    public static Converted Convert(ModelOperationsCatalog catalog, ITransformer step, DataViewSchema before, IReadOnlyList<string> written)
    {
        var input = SchemaOnlyDataView.ForConverter(before);
        var untyped = before.Where(c => !c.IsHidden && ColumnTensors.TryElementType(c.Type) is null).Select(c => $"'{c.Name}' ({c.Type})").ToList();
        string Failed(Exception e) => untyped.Count > 0
            ? $"it reads a column ONNX has no tensor type for ({string.Join(", ", untyped)}), or ML.NET's OnnxConverter can't convert it ({e.GetType().Name}: {e.Message})"
            : $"ML.NET's OnnxConverter failed on it ({e.GetType().Name}: {e.Message})";
        try
        {
            return Check(Run(catalog, step, input, written), input, written);
        }
        catch (Exception first) when (first is not StepFailure && HasNarrowKeys(input))
        {
            // ML.NET 5.0.1's converter throws a NullReferenceException on MapKeyToValue of the UInt16 keys that
            // TokenizeIntoCharactersAsKeys writes; the same trivial transform over UInt32 keys converts. The merged graph
            // casts those columns to UInt32 before this step reads them.
            var wide = SchemaOnlyDataView.WidenKeys(input);
            try
            {
                return Check(Run(catalog, step, wide, written), wide, written);
            }
            catch (Exception e) when (e is not StepFailure)
            {
                throw new StepFailure(Failed(first), first);
            }
        }
        catch (Exception e) when (e is not StepFailure)
        {
            throw new StepFailure(Failed(e), e);
        }
    }

    private static bool HasNarrowKeys(DataViewSchema schema) => schema.Any(c =>
        (c.Type is VectorDataViewType v ? v.ItemType : c.Type) is KeyDataViewType k && k.RawType != typeof(uint));

    private static (ModelProto Model, long Opset) Run(ModelOperationsCatalog catalog, ITransformer step, DataViewSchema input, IReadOnlyList<string> written)
    {
        using var stream = new MemoryStream();
        catalog.ConvertToOnnx(step, new SchemaOnlyDataView(input), stream, written.ToArray());
        if (stream.Length == 0) throw new StepFailure("ML.NET's OnnxConverter wrote an empty model for it");
        var model = ModelProto.Parse(stream.GetBuffer().AsMemory(0, (int)stream.Length));
        long opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1;
        return (model, opset);
    }

    /// <summary>
    /// Refuses a graph in which the converter stopped quietly: its walk back from the step's output ends at the first
    /// transformer it can't convert and declares that transformer's outputs as graph inputs, so its inputs are then not
    /// the columns before the step, or a written column's output is only an Identity of the graph input of that same
    /// column (a CopyColumns output is an Identity of another column's input, which is right). Keeps, in the order of
    /// <paramref name="written"/>, the output of each written column ("Column.output"); drops the converter's extra
    /// outputs (e.g. "mlnet.X.unusedOutput" for slot names).
    /// </summary>
    private static Converted Check((ModelProto Model, long Opset) result, DataViewSchema input, IReadOnlyList<string> written)
    {
        var g = result.Model.Graph;
        const string stopped = "ML.NET's OnnxConverter has no ONNX conversion for it (its converter stops at such a step and would write a graph without it)";
        if (g.Inputs.Count != input.Count) throw new StepFailure(stopped);
        var outputs = new List<ValueInfoProto>();
        foreach (var column in written)
        {
            var output = g.Outputs.FirstOrDefault(o => o.Name == column + ".output")
                         ?? throw new StepFailure($"ML.NET's OnnxConverter wrote no output for column '{column}' (its outputs: {string.Join(", ", g.Outputs.Select(o => o.Name))})");
            outputs.Add(output);
        }
        g.Outputs.Clear();
        g.Outputs.AddRange(outputs);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in g.Nodes) foreach (var o in n.Outputs) producers[o] = n;
        var inputColumns = g.Inputs.Select((v, j) => (v.Name, Column: input[j].Name)).ToDictionary(p => p.Name, p => p.Column, StringComparer.Ordinal);
        for (int k = 0; k < written.Count; k++)
        {
            var value = outputs[k].Name;
            while (producers.TryGetValue(value, out var n) && n.OpType == "Identity" && n.Inputs.Count == 1) value = n.Inputs[0];
            if (inputColumns.TryGetValue(value, out var column) && column == written[k]) throw new StepFailure(stopped);
            if (!inputColumns.ContainsKey(value) && !producers.ContainsKey(value) && g.Initializers.All(t => t.Name != value)) throw new StepFailure(stopped);
        }
        return new Converted(result.Model, result.Opset, input);
    }
}
