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
    /// the columns before the step, or a written column's output is only an Identity of a graph input.
    /// </summary>
    private static Converted Check((ModelProto Model, long Opset) result, DataViewSchema input, IReadOnlyList<string> written)
    {
        var g = result.Model.Graph;
        const string stopped = "ML.NET's OnnxConverter has no ONNX conversion for it (its converter stops at such a step and would write a graph without it)";
        if (g.Inputs.Count != input.Count) throw new StepFailure(stopped);
        if (g.Outputs.Count != written.Count)
            throw new StepFailure($"ML.NET's OnnxConverter wrote {g.Outputs.Count} outputs for the {written.Count} columns it writes ({string.Join(", ", written)})");
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in g.Nodes) foreach (var o in n.Outputs) producers[o] = n;
        var inputNames = g.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var output in g.Outputs)
        {
            var value = output.Name;
            while (producers.TryGetValue(value, out var n) && n.OpType == "Identity" && n.Inputs.Count == 1) value = n.Inputs[0];
            if (inputNames.Contains(value)) throw new StepFailure(stopped);
            if (!producers.ContainsKey(value) && g.Initializers.All(t => t.Name != value)) throw new StepFailure(stopped);
        }
        return new Converted(result.Model, result.Opset, input);
    }
}
