using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport.Graph;
using MLNetDeep.OnnxImport.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.OnnxImport;

/// <summary>
/// A TorchSharp module built from an ONNX model: its initializers are trainable parameters (batch-norm running
/// statistics are buffers), it runs in train and eval mode, and it is split into sequential blocks
/// (<c>block0</c>, <c>block1</c>, ...) at the points where one tensor is live, so a prefix can be frozen and its
/// output cached (<see cref="ForwardBlocks"/>).
/// </summary>
/// <example>
/// <code>
/// using var backbone = OnnxNetwork.Load("ResNet18.onnx", new OnnxImportOptions { OutputName = "Pooling395_Output_0" });
/// backbone.eval();
/// using (torch.no_grad()) { var features = backbone.forward(images); }   // [N, 512, 1, 1]
/// foreach (var (name, p) in backbone.named_parameters())                  // "block3.Parameter68", ...
///     if (!name.StartsWith("block8.")) p.requires_grad = false;
/// </code>
/// </example>
public sealed class OnnxNetwork : nn.Module<Tensor, Tensor>
{
    private readonly ImportPlan _plan;
    private readonly OnnxBlock[] _blocks;

    private OnnxNetwork(ImportPlan plan, ModelProto model) : base(nameof(OnnxNetwork))
    {
        _plan = plan;
        // the blocks are registered one by one: their number comes from the file, so there are no typed fields to register
        _blocks = new OnnxBlock[plan.Blocks.Count];
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b] = new OnnxBlock(RunBlock, b, plan.Blocks[b]);
            register_module($"block{b}", _blocks[b]);
            foreach (var t in plan.Blocks[b].Tensors) names[t.OnnxName] = $"block{b}.{t.Name}";
        }
        ParameterNames = names;
        Opset = plan.Opset;
        ProducerName = model.ProducerName;
        ProducerVersion = model.ProducerVersion;
        Metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        InputShapes = plan.InputInfo.Select(ShapeOf).ToList();
    }

    /// <summary>Reads an ONNX model file and builds the network.</summary>
    /// <exception cref="OnnxImportException">The file is not ONNX, an operator is not supported, or an option names a value the graph lacks.</exception>
    public static OnnxNetwork Load(string path, OnnxImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Load(stream, options, path);
    }

    /// <summary>Reads an ONNX model from a stream (to its end) and builds the network.</summary>
    /// <exception cref="OnnxImportException">The data is not ONNX, an operator is not supported, or an option names a value the graph lacks.</exception>
    public static OnnxNetwork Load(Stream stream, OnnxImportOptions? options = null) => Load(stream, options, "the stream");

    private static OnnxNetwork Load(Stream stream, OnnxImportOptions? options, string what)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ModelProto model;
        try { model = ModelProto.Load(stream); }
        catch (InvalidDataException e)
        {
            throw new OnnxImportException($"{what} is not a valid ONNX model: {e.Message}", inner: e);
        }
        return FromModel(model, options);
    }

    /// <summary>Builds the network from a parsed model (pretrained backbones build theirs from a cut copy of the file).</summary>
    internal static OnnxNetwork FromModel(ModelProto model, OnnxImportOptions? options = null)
    {
        Runtime.TorchRuntime.EnsureLoaded();
        var plan = ImportPlan.Build(model, (options ?? new OnnxImportOptions()).Clone());
        return new OnnxNetwork(plan, model);
    }

    /// <summary>The values the network takes, in <see cref="ForwardAll"/>'s order (one for <see cref="forward"/>).</summary>
    public IReadOnlyList<string> InputNames => _plan.InputNames;

    /// <summary>The values the network returns, in <see cref="ForwardAll"/>'s order; <see cref="forward"/> returns the first.</summary>
    public IReadOnlyList<string> OutputNames => _plan.OutputNames;

    /// <summary>
    /// The shape the file declares for each input: a number per fixed dimension, null for a dynamic one (or when the file
    /// declares none). A fixed batch size is not enforced: any batch size runs.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<long?>?> InputShapes { get; }

    /// <summary>The default-domain opset of the model.</summary>
    public long Opset { get; }

    /// <summary>producer_name of the file (e.g. "CNTK", "pytorch", "MLNetDeep").</summary>
    public string ProducerName { get; }

    /// <summary>producer_version of the file.</summary>
    public string ProducerVersion { get; }

    /// <summary>The model's metadata_props.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>ONNX initializer name → this module's parameter or buffer name (e.g. "Parameter68" → "block3.Parameter68").</summary>
    public IReadOnlyDictionary<string, string> ParameterNames { get; }

    /// <summary>The sequential blocks, <c>block0</c> first; <see cref="OnnxBlock.Description"/> says what each holds.</summary>
    public IReadOnlyList<OnnxBlock> Blocks => _blocks;

    /// <summary>Runs the whole network on its one input; returns its first output.</summary>
    public override Tensor forward(Tensor input) => ForwardBlocks(input, 0, _blocks.Length);

    /// <summary>
    /// Runs blocks <paramref name="from"/> to <paramref name="to"/> − 1. <paramref name="input"/> is the network input
    /// when <paramref name="from"/> is 0, otherwise the output of block <paramref name="from"/> − 1; the result is the
    /// output of block <paramref name="to"/> − 1 (the network's first output when <paramref name="to"/> is the block count).
    /// </summary>
    public Tensor ForwardBlocks(Tensor input, int from, int to)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (from < 0 || to > _blocks.Length || from >= to)
            throw new ArgumentOutOfRangeException(nameof(from), $"Blocks {from} to {to} (exclusive) are not a range of the network's {_blocks.Length} blocks. Received: from={from}, to={to}.");
        var env = new Tensor?[_plan.SlotCount];
        var given = new bool[_plan.SlotCount];
        if (from == 0)
        {
            if (_plan.InputSlots.Length != 1)
                throw new InvalidOperationException($"The network has {_plan.InputSlots.Length} inputs ({string.Join(", ", InputNames)}); call ForwardAll, or import with OnnxImportOptions.InputName.");
            CheckInput(0, input);
            env[_plan.InputSlots[0]] = input;
            given[_plan.InputSlots[0]] = true;
        }
        else
        {
            env[_plan.Blocks[from].InputSlot] = input;
            given[_plan.Blocks[from].InputSlot] = true;
        }
        int resultSlot = to == _blocks.Length ? _plan.OutputSlots[0] : _plan.Blocks[to - 1].OutputSlot;
        Run(env, given, from, to, input.dim() > 0 ? input.shape[0] : 1);
        return Collect(env, given, new[] { resultSlot })[0];
    }

    /// <summary>Runs the network on all its inputs (<see cref="InputNames"/> order); returns all its outputs (<see cref="OutputNames"/> order).</summary>
    public Tensor[] ForwardAll(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length != _plan.InputSlots.Length)
            throw new ArgumentException($"The network takes {_plan.InputSlots.Length} inputs ({string.Join(", ", InputNames)}). Received: {inputs.Length}.", nameof(inputs));
        var env = new Tensor?[_plan.SlotCount];
        var given = new bool[_plan.SlotCount];
        for (int i = 0; i < inputs.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(inputs[i], $"inputs[{i}]");
            CheckInput(i, inputs[i]);
            env[_plan.InputSlots[i]] = inputs[i];
            given[_plan.InputSlots[i]] = true;
        }
        Run(env, given, 0, _blocks.Length, inputs.Length > 0 && inputs[0].dim() > 0 ? inputs[0].shape[0] : 1);
        return Collect(env, given, _plan.OutputSlots);
    }

    private Tensor RunBlock(int block, Tensor input) => ForwardBlocks(input, block, block + 1);

    private void CheckInput(int index, Tensor x)
    {
        var info = _plan.InputInfo[index];
        if (info is null || info.OtherType is not null) return;
        string name = _plan.InputNames[index];
        if (info.ElemType != OnnxDataType.Undefined)
        {
            var expected = OnnxTensors.ToTorch(info.ElemType, $"Input '{name}'");
            if (x.dtype != expected)
                throw new ArgumentException($"Input '{name}' takes {expected} tensors. Received: {x.dtype}. Convert it with .to(ScalarType.{expected}).");
        }
        if (!info.HasShape) return;
        var shape = info.Shape;
        string declared = $"[{string.Join(", ", shape.Select(d => d is long v ? v.ToString() : d is string s && s.Length > 0 ? s : "?"))}]";
        if (x.dim() != shape.Count)
            throw new ArgumentException($"Input '{name}' has shape {declared} (rank {shape.Count}). Received: [{string.Join(", ", x.shape)}] (rank {x.dim()}).");
        // the batch dimension may differ (any batch size runs); the channel / feature dimension must match
        if (shape.Count > 1 && shape[1] is long channels && channels > 0 && x.shape[1] != channels)
            throw new ArgumentException($"Input '{name}' has shape {declared}: dimension 1 must be {channels}. Received: [{string.Join(", ", x.shape)}].");
    }

    private void Run(Tensor?[] env, bool[] given, int from, int to, long batch)
    {
        for (int b = from; b < to; b++)
        {
            var ctx = new OpContext { Training = _blocks[b].training, DeclaredBatch = _plan.DeclaredBatch, RuntimeBatch = batch };
            foreach (var node in _plan.Blocks[b].Nodes)
            {
                if (node.SkipInEval && !ctx.Training)
                {
                    Release(env, given, node);
                    continue;
                }
                var args = Arguments(env, node);
                var outputSlots = node.OutputSlots;
                Tensor[] results;
                try
                {
                    if (node.FoldedBatchNorm is { } bn && !ctx.Training)
                    {
                        // eval mode: the convolution with the batch norm folded into its weights writes the batch norm's output
                        var norm = Arguments(env, bn.Node, from: 1); // its input 0 is this convolution's output
                        var (w, bias) = EvalFusion.Fold(args[1]!, args.Length > 2 ? args[2] : null, norm[1]!, norm[2]!, norm[3]!, norm[4]!, bn.Epsilon);
                        using (w)
                        using (bias)
                            results = node.Run(ctx, new[] { args[0], w, bias });
                        outputSlots = bn.Node.OutputSlots;
                    }
                    else results = node.Run(ctx, args);
                }
                catch (Exception e) when (e is not OnnxImportException)
                {
                    throw new InvalidOperationException(node.Node.RuntimeError(e, args).Message, e);
                }
                for (int k = 0; k < results.Length; k++)
                {
                    var r = results[k];
                    bool isInput = args.Any(a => ReferenceEquals(a, r));
                    if (k < outputSlots.Length && outputSlots[k] >= 0)
                        env[outputSlots[k]] = isInput ? r.alias() : r; // a value never shares its handle with another
                    else if (!isInput) r.Dispose();
                }
                Release(env, given, node);
            }
        }
    }

    /// <summary>The node's input tensors (inputs before <paramref name="from"/> left null).</summary>
    private Tensor?[] Arguments(Tensor?[] env, RuntimeNode node, int from = 0)
    {
        var args = new Tensor?[node.Inputs.Length];
        for (int i = from; i < args.Length; i++)
        {
            var s = node.Inputs[i];
            args[i] = s.Kind switch
            {
                SourceKind.Slot => env[s.Slot] ?? throw new InvalidOperationException($"Node '{node.Node.Label}' ({node.Node.OpType}) reads value '{node.Node.Proto.Inputs[i]}', which this run has not computed: run the blocks before it first."),
                SourceKind.Parameter => _blocks[s.Owner].get_parameter(s.Name),
                SourceKind.Buffer => _blocks[s.Owner].get_buffer(s.Name),
                _ => null,
            };
        }
        return args;
    }

    /// <summary>Disposes the values whose last reader is <paramref name="node"/> (not those the caller gave).</summary>
    private static void Release(Tensor?[] env, bool[] given, RuntimeNode node)
    {
        foreach (var slot in node.LastUseOf)
        {
            if (given[slot] || env[slot] is null) continue;
            env[slot]!.Dispose();
            env[slot] = null;
        }
    }

    /// <summary>The tensors in <paramref name="slots"/>; every other tensor this run made is disposed.</summary>
    private static Tensor[] Collect(Tensor?[] env, bool[] given, int[] slots)
    {
        var result = slots.Select(s => env[s] ?? throw new InvalidOperationException("The run did not compute the requested value.")).ToArray();
        var keep = new HashSet<int>(slots);
        for (int s = 0; s < env.Length; s++)
            if (env[s] is not null && !given[s] && !keep.Contains(s)) env[s]!.Dispose();
        // an output that is an input the caller gave: a new handle, so the caller may dispose either
        for (int i = 0; i < slots.Length; i++)
            if (given[slots[i]]) result[i] = result[i].alias();
        return result;
    }

    private static IReadOnlyList<long?>? ShapeOf(ValueInfoProto? info) =>
        info is { HasShape: true, OtherType: null } ? info.Shape.Select(d => d is long v && v > 0 ? v : (long?)null).ToList() : null;

    /// <summary>The operators the importer supports (the default ONNX domain), sorted.</summary>
    public static IReadOnlyList<string> SupportedOperators => OnnxOperators.Supported;
}

/// <summary>
/// One sequential block of an <see cref="OnnxNetwork"/>: the nodes between two points where one tensor is live, with
/// the parameters and buffers they read first (registered here, so <c>named_parameters()</c> gives "block3.&lt;initializer&gt;").
/// Its forward takes the previous block's output (block 0: the network input) and returns its own.
/// </summary>
public sealed class OnnxBlock : nn.Module<Tensor, Tensor>
{
    // a delegate, not an OnnxNetwork field: TorchSharp registers Module-typed fields as children, and the network owns
    // the blocks, not the other way round
    private readonly Func<int, Tensor, Tensor> _run;

    internal OnnxBlock(Func<int, Tensor, Tensor> run, int index, BlockPlan plan) : base($"block{index}")
    {
        _run = run;
        Index = index;
        InputName = plan.InputValue;
        OutputName = plan.OutputValue;
        NodeNames = plan.Nodes.Select(n => n.Node.Label).ToList();
        OperatorTypes = plan.Nodes.Select(n => n.Node.OpType).ToList();
        foreach (var t in plan.Tensors)
        {
            if (t.Trainable) register_parameter(t.Name, new Parameter(t.Value, requires_grad: true));
            else register_buffer(t.Name, t.Value, t.Persistent);
        }
    }

    /// <summary>Position of the block (its name is "block" + Index).</summary>
    public int Index { get; }

    /// <summary>The ONNX value the block takes (several, comma separated, for block 0 of a multi-input network).</summary>
    public string InputName { get; }

    /// <summary>The ONNX value the block gives.</summary>
    public string OutputName { get; }

    /// <summary>The ONNX nodes the block runs, in order.</summary>
    public IReadOnlyList<string> NodeNames { get; }

    /// <summary>The operator of each node, in order.</summary>
    public IReadOnlyList<string> OperatorTypes { get; }

    /// <summary>E.g. "block3: 5 nodes (Conv, BatchNormalization, Relu, Conv, BatchNormalization, Add, Relu), 74,112 parameters, Plus281_Output_0 → ReLU283_Output_0".</summary>
    public string Description =>
        $"block{Index}: {OperatorTypes.Count} nodes ({string.Join(", ", OperatorTypes)}), " +
        $"{parameters().Sum(p => p.numel()):N0} parameters, {InputName} → {OutputName}";

    /// <summary>Runs this block alone.</summary>
    public override Tensor forward(Tensor input) => _run(Index, input);
}
