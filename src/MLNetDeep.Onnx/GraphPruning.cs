using MLNetDeep.Onnx.Proto;

namespace MLNetDeep.Onnx;

/// <summary>Cutting a graph down to what some of its values need.</summary>
internal static class GraphPruning
{
    /// <summary>
    /// Removes every node and initializer that none of <paramref name="outputs"/> depends on (graph inputs stay); returns
    /// the names still needed: the outputs and everything they read.
    /// </summary>
    public static HashSet<string> Prune(GraphProto graph, IEnumerable<string> outputs)
    {
        var needed = new HashSet<string>(outputs, StringComparer.Ordinal);
        var kept = new List<NodeProto>();
        for (int i = graph.Nodes.Count - 1; i >= 0; i--) // nodes are in topological order: walk back from the outputs
        {
            var node = graph.Nodes[i];
            if (!node.Outputs.Any(needed.Contains)) continue;
            kept.Add(node);
            foreach (var input in node.Inputs) if (input.Length > 0) needed.Add(input);
        }
        kept.Reverse();
        graph.Nodes.Clear();
        graph.Nodes.AddRange(kept);
        graph.Initializers.RemoveAll(t => !needed.Contains(t.Name));
        return needed;
    }
}
