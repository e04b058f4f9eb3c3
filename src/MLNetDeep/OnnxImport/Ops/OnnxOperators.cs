namespace MLNetDeep.OnnxImport.Ops;

/// <summary>Every operator the importer supports, by ONNX op type (default domain).</summary>
internal static class OnnxOperators
{
    /// <summary>The lowest and highest opset the importer accepts.</summary>
    public const long MinOpset = 1, MaxOpset = 23;

    private static readonly Dictionary<string, OpDefinition> ByType =
        ElementwiseOps.Definitions().Concat(ShapeOps.Definitions()).Concat(LayerOps.Definitions()).Concat(RecurrentOps.Definitions())
            .ToDictionary(d => d.OpType, StringComparer.Ordinal);

    /// <summary>The definition of <paramref name="opType"/>, or null when it is not supported.</summary>
    public static OpDefinition? Find(string opType) => ByType.GetValueOrDefault(opType);

    /// <summary>The supported op types, sorted.</summary>
    public static IReadOnlyList<string> Supported { get; } = ByType.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>Every definition (for the documentation table).</summary>
    public static IEnumerable<OpDefinition> All => Supported.Select(s => ByType[s]);
}
