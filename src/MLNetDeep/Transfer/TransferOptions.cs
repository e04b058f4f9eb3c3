namespace MLNetDeep.Transfer;

/// <summary>
/// How to reuse a trained model (<c>TrainerOptions.WarmStartFrom</c>): which blocks to freeze, whether to give the
/// network a fresh output layer (for a different set of classes), and per-group learning-rate multipliers for
/// fine-tuning. Module names are those of <c>network.named_modules()</c>: the CNN body's blocks are
/// "body.block0", "body.block1", …; the dense head's layers are "head.layers.dense0", …, "head.layers.output".
/// </summary>
/// <example>
/// Train only a new head on top of a frozen body, then fine-tune everything with the body at a tenth of the rate:
/// <code>
/// var headOnly = new CnnOptions { WarmStartFrom = pretrained, Transfer = new() { ReplaceOutputLayer = true, FreezeBlocks = 2 }, ... };
/// var fineTune = new CnnOptions { WarmStartFrom = headModel, Transfer = new() { BodyLearningRateMultiplier = 0.1 }, ... };
/// </code>
/// </example>
public sealed class TransferOptions
{
    /// <summary>Freeze the first N blocks of the network body (weights and batch-norm statistics stay bit-identical). Default 0.</summary>
    public int FreezeBlocks { get; init; }

    /// <summary>Also freeze these modules (name prefixes, e.g. "body.block2" or "head.layers.dense0").</summary>
    public IReadOnlyList<string>? FreezeModules { get; init; }

    /// <summary>
    /// Start the output layer ("head.layers.output") from a fresh initialisation instead of the saved weights.
    /// Required when the new task has a different number of classes/outputs. Default false.
    /// </summary>
    public bool ReplaceOutputLayer { get; init; }

    /// <summary>
    /// Modules (name prefixes) that start from a fresh initialisation instead of the saved weights, e.g. "head" to keep
    /// only the convolutional body. The output layer must be among them (or <see cref="ReplaceOutputLayer"/> set) when
    /// the class count differs. Null = none.
    /// </summary>
    public IReadOnlyList<string>? ReinitializeModules { get; init; }

    /// <summary>Learning-rate multiplier for every trainable parameter outside the head ("head.*"). Default 1.</summary>
    public double BodyLearningRateMultiplier { get; init; } = 1.0;

    /// <summary>
    /// Learning-rate multipliers by module-name prefix (the longest matching prefix wins; it overrides
    /// <see cref="BodyLearningRateMultiplier"/>). Null = none.
    /// </summary>
    public IReadOnlyDictionary<string, double>? LearningRateMultipliers { get; init; }

    internal void Validate()
    {
        if (FreezeBlocks < 0)
            throw new ArgumentOutOfRangeException(nameof(FreezeBlocks), FreezeBlocks, $"Transfer.FreezeBlocks must be >= 0. Received: FreezeBlocks={FreezeBlocks}");
        if (!(BodyLearningRateMultiplier >= 0) || double.IsInfinity(BodyLearningRateMultiplier))
            throw new ArgumentOutOfRangeException(nameof(BodyLearningRateMultiplier), BodyLearningRateMultiplier,
                $"Transfer.BodyLearningRateMultiplier must be a finite number >= 0 (e.g. 0.1 for fine-tuning). Received: BodyLearningRateMultiplier={BodyLearningRateMultiplier}");
        if (LearningRateMultipliers is not null)
            foreach (var (prefix, m) in LearningRateMultipliers)
                if (!(m >= 0) || double.IsInfinity(m))
                    throw new ArgumentOutOfRangeException(nameof(LearningRateMultipliers), m,
                        $"Transfer.LearningRateMultipliers[\"{prefix}\"] must be a finite number >= 0. Received: {m}");
    }

    /// <summary>The module-name prefixes that keep their fresh initialisation.</summary>
    internal IReadOnlyList<string> ReinitializedPrefixes()
    {
        var list = ReinitializeModules?.ToList() ?? new List<string>();
        if (ReplaceOutputLayer) list.Add(TransferLearning.OutputLayer);
        return list;
    }

    /// <summary>Whether the output layer is freshly initialised (so the class count may change).</summary>
    internal bool ReplacesOutput => ReinitializedPrefixes().Any(p => Matches(TransferLearning.OutputLayer, p));

    /// <summary>The module-name prefixes to freeze.</summary>
    internal IEnumerable<string> FrozenPrefixes()
    {
        for (int i = 0; i < FreezeBlocks; i++) yield return Models.ModulePaths.Block(i);
        if (FreezeModules is not null) foreach (var m in FreezeModules) yield return m;
    }

    /// <summary>Learning-rate multiplier of a parameter by its full name.</summary>
    internal double MultiplierFor(string parameterName)
    {
        if (LearningRateMultipliers is not null)
        {
            var match = LearningRateMultipliers.Where(kv => Matches(parameterName, kv.Key)).OrderByDescending(kv => kv.Key.Length).FirstOrDefault();
            if (match.Key is not null) return match.Value;
        }
        return Matches(parameterName, Models.ModulePaths.Head) ? 1.0 : BodyLearningRateMultiplier;
    }

    /// <summary>Whether <paramref name="name"/> is <paramref name="prefix"/> or inside it (dot-separated).</summary>
    internal static bool Matches(string name, string prefix) =>
        name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal);
}
