using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport.Ops;
using static TorchSharp.torch;

namespace MLNetDeep.OnnxImport.Graph;

/// <summary>Where a node input's tensor comes from at run time.</summary>
internal enum SourceKind
{
    /// <summary>Omitted optional input, or a constant the node took at import.</summary>
    None,
    /// <summary>A value computed in this run (or a network input).</summary>
    Slot,
    /// <summary>A trainable parameter registered in block <see cref="InputSource.Owner"/>.</summary>
    Parameter,
    /// <summary>A buffer (running statistics, or a constant used as tensor data) registered in block <see cref="InputSource.Owner"/>.</summary>
    Buffer,
}

/// <summary>A node input's source.</summary>
internal readonly record struct InputSource(SourceKind Kind, int Slot = -1, int Owner = -1, string Name = "");

/// <summary>A node that runs at run time: its computation, input sources and output slots.</summary>
internal sealed class RuntimeNode
{
    public required ImportNode Node { get; init; }
    public required OpRun Run { get; init; }
    public required InputSource[] Inputs { get; init; }
    /// <summary>Slot of each node output; -1 for an output nobody reads.</summary>
    public required int[] OutputSlots { get; init; }
    /// <summary>Slots whose last reader is this node (their tensors are disposed after it, unless the caller gave them).</summary>
    public List<int> LastUseOf { get; } = new();
    /// <summary>Eval mode: the batch norm folded into this convolution's weights (this node then writes the batch norm's output).</summary>
    public FoldedBatchNorm? FoldedBatchNorm { get; set; }
    /// <summary>Eval mode: this batch norm is folded into the convolution before it and does not run.</summary>
    public bool SkipInEval { get; set; }
}

/// <summary>A batch norm folded into a convolution in eval mode: its node (for the inputs) and epsilon.</summary>
internal sealed record FoldedBatchNorm(RuntimeNode Node, double Epsilon);

/// <summary>A tensor registered in a block: a parameter (trainable) or a buffer.</summary>
internal sealed record BlockTensor(string Name, string OnnxName, Tensor Value, bool Trainable, bool Persistent);

/// <summary>One sequential block: its nodes, the one value it takes (-1: the network inputs) and the one it gives (-1: the network outputs).</summary>
internal sealed class BlockPlan
{
    public List<RuntimeNode> Nodes { get; } = new();
    public List<BlockTensor> Tensors { get; } = new();
    public int InputSlot { get; set; } = -1;
    public int OutputSlot { get; set; } = -1;
    public string InputValue { get; set; } = "";
    public string OutputValue { get; set; } = "";
}

/// <summary>
/// The analysis of an ONNX graph that <see cref="OnnxNetwork"/> is built from: nodes sorted topologically (and checked),
/// cut to the chosen input and outputs, initializers classified (parameters, buffers, constants), constant
/// subgraphs folded, and the remaining nodes split into sequential blocks at the points where one tensor is live.
/// </summary>
internal sealed class ImportPlan
{
    private static readonly HashSet<string> PrimaryOps = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN" };

    public List<BlockPlan> Blocks { get; } = new();
    public int SlotCount { get; private set; }
    public string[] InputNames { get; private set; } = Array.Empty<string>();
    public int[] InputSlots { get; private set; } = Array.Empty<int>();
    public ValueInfoProto?[] InputInfo { get; private set; } = Array.Empty<ValueInfoProto?>();
    public string[] OutputNames { get; private set; } = Array.Empty<string>();
    public int[] OutputSlots { get; private set; } = Array.Empty<int>();
    public long Opset { get; private set; }
    public long? DeclaredBatch { get; private set; }

    private ModelProto _model = null!;
    private GraphProto _graph = null!;
    private Dictionary<string, TensorProto> _initializers = null!;
    private List<(NodeProto Node, int Index)> _order = null!;
    private Dictionary<string, int> _producer = null!; // value → position in _order

    public static ImportPlan Build(ModelProto model, OnnxImportOptions options)
    {
        var plan = new ImportPlan { _model = model, _graph = model.Graph };
        plan.Analyse(options);
        return plan;
    }

    private void Analyse(OnnxImportOptions options)
    {
        Opset = DefaultOpset(_model);
        _initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in _graph.Initializers) _initializers[t.Name] = t;
        _order = TopologicalOrder();
        _producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < _order.Count; p++)
            foreach (var o in _order[p].Node.Outputs.Where(o => o.Length > 0))
                if (!_producer.TryAdd(o, p))
                    throw new OnnxImportException($"The graph is not valid ONNX: value '{o}' is produced by two nodes ('{Label(_order[_producer[o]])}' and '{Label(_order[p])}').");

        var outputs = ChooseOutputs(options);
        var (inputs, needed) = ChooseInputsAndNodes(options, outputs);
        CheckSupported(needed);
        BuildRuntime(options, inputs, outputs, needed);
    }

    private static long DefaultOpset(ModelProto model)
    {
        var op = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (op is null)
            throw new OnnxImportException("The model imports no version of the default ONNX operator set (opset_import has no entry for domain '' or 'ai.onnx').");
        if (op.Version < OnnxOperators.MinOpset || op.Version > OnnxOperators.MaxOpset)
            throw new OnnxImportException($"The model uses ONNX opset {op.Version}; the importer supports opsets {OnnxOperators.MinOpset} to {OnnxOperators.MaxOpset}. " +
                "Convert it first, e.g. in Python: onnx.version_converter.convert_version(model, 13).");
        return op.Version;
    }

    private static string Label((NodeProto Node, int Index) n) => n.Node.Name.Length > 0 ? n.Node.Name : $"#{n.Index}";

    private bool IsGraphInput(string name) => _graph.Inputs.Any(i => i.Name == name);

    /// <summary>Kahn's algorithm, keeping the file's order among ready nodes; a clear error for a missing value or a cycle.</summary>
    private List<(NodeProto, int)> TopologicalOrder()
    {
        var nodes = _graph.Nodes;
        var producedBy = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
            foreach (var o in nodes[i].Outputs.Where(o => o.Length > 0)) producedBy.TryAdd(o, i);
        var available = new HashSet<string>(_graph.Inputs.Select(i => i.Name).Concat(_initializers.Keys), StringComparer.Ordinal);
        var waiting = new int[nodes.Count];
        var consumers = new Dictionary<int, List<int>>();
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (var input in nodes[i].Inputs.Where(x => x.Length > 0).Distinct())
            {
                if (available.Contains(input)) continue;
                if (!producedBy.TryGetValue(input, out var p))
                    throw new OnnxImportException($"Node '{Label((nodes[i], i))}' ({nodes[i].OpType}) reads '{input}', which no node, initializer or graph input provides.",
                        Label((nodes[i], i)), nodes[i].OpType);
                waiting[i]++;
                (consumers.TryGetValue(p, out var list) ? list : consumers[p] = new List<int>()).Add(i);
            }
        }
        var ready = new SortedSet<int>(Enumerable.Range(0, nodes.Count).Where(i => waiting[i] == 0));
        var order = new List<(NodeProto, int)>(nodes.Count);
        while (ready.Count > 0)
        {
            int i = ready.Min;
            ready.Remove(i);
            order.Add((nodes[i], i));
            if (consumers.TryGetValue(i, out var next))
                foreach (var c in next)
                    if (--waiting[c] == 0) ready.Add(c);
        }
        if (order.Count != nodes.Count)
        {
            var stuck = Enumerable.Range(0, nodes.Count).Where(i => waiting[i] > 0).Take(5).Select(i => $"'{Label((nodes[i], i))}' ({nodes[i].OpType})");
            throw new OnnxImportException($"The graph has a cycle: these nodes wait on each other: {string.Join(", ", stuck)}.");
        }
        return order;
    }

    private List<string> ChooseOutputs(OnnxImportOptions options)
    {
        if (options.OutputName is not null && options.OutputNames is not null)
            throw new ArgumentException("Set OnnxImportOptions.OutputName or OutputNames, not both.", nameof(options));
        var names = options.OutputNames?.ToList()
                    ?? (options.OutputName is { } one ? new List<string> { one }
                        : _graph.Outputs.Count > 0 ? new List<string> { _graph.Outputs[0].Name } : new List<string>());
        if (names.Count == 0) throw new OnnxImportException("The graph declares no outputs; set OnnxImportOptions.OutputName to the value to return.");
        foreach (var n in names)
        {
            if (string.IsNullOrEmpty(n)) throw new ArgumentException("OnnxImportOptions.OutputName(s) holds an empty name.", nameof(options));
            if (!_producer.ContainsKey(n) && !IsGraphInput(n) && !_initializers.ContainsKey(n))
                throw new OnnxImportException($"OnnxImportOptions.OutputName '{n}' is not a value of the graph. {Candidates()}");
        }
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new ArgumentException($"OnnxImportOptions.OutputNames names a value twice: {string.Join(", ", names)}.", nameof(options));
        return names;
    }

    /// <summary>Names worth cutting at: the graph's outputs and the values at which one tensor is live (block boundaries).</summary>
    internal string Candidates()
    {
        var cuts = StructuralCutValues();
        var outputs = _graph.Outputs.Select(o => o.Name).ToList();
        const int most = 30;
        string list = string.Join(", ", cuts.TakeLast(most).Select(c => $"'{c}'"));
        return $"Graph outputs: {string.Join(", ", outputs.Select(o => $"'{o}'"))}. Values where the graph can be cut (one live tensor), last {Math.Min(most, cuts.Count)} of {cuts.Count}: {list}.";
    }

    /// <summary>Values at which exactly one computed tensor is live, in graph order (initializers and Constant-only subgraphs do not count).</summary>
    private List<string> StructuralCutValues()
    {
        var isStatic = new HashSet<string>(_initializers.Keys, StringComparer.Ordinal);
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < _order.Count; p++)
        {
            var node = _order[p].Node;
            if (node.Inputs.Where(i => i.Length > 0).All(isStatic.Contains)) foreach (var o in node.Outputs) isStatic.Add(o);
            foreach (var i in node.Inputs.Where(i => i.Length > 0)) lastUse[i] = p;
        }
        var graphOutputs = _graph.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var live = new HashSet<string>(_graph.Inputs.Select(i => i.Name).Where(n => !isStatic.Contains(n) && lastUse.ContainsKey(n)), StringComparer.Ordinal);
        var cuts = new List<string>();
        for (int p = 0; p < _order.Count; p++)
        {
            foreach (var o in _order[p].Node.Outputs.Where(o => o.Length > 0 && !isStatic.Contains(o)))
                if (lastUse.GetValueOrDefault(o, -1) > p || graphOutputs.Contains(o)) live.Add(o);
            live.RemoveWhere(v => lastUse.GetValueOrDefault(v, -1) <= p && !graphOutputs.Contains(v));
            if (live.Count == 1 && p < _order.Count - 1) cuts.Add(live.First());
        }
        return cuts.Distinct().ToList();
    }

    private (List<string> Inputs, List<int> Needed) ChooseInputsAndNodes(OnnxImportOptions options, List<string> outputs)
    {
        string? inputName = options.InputName;
        if (inputName is not null && !_producer.ContainsKey(inputName) && !IsGraphInput(inputName))
            throw new OnnxImportException($"OnnxImportOptions.InputName '{inputName}' is not a value of the graph. " +
                $"Graph inputs: {string.Join(", ", GraphInputs().Select(i => $"'{i}'"))}. {Candidates()}");
        // walk back from the outputs; stop at the chosen input and at initializers
        var needed = new SortedSet<int>();
        var inputsUsed = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(outputs.AsEnumerable().Reverse());
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (!seen.Add(v)) continue;
            if (v == inputName) { inputsUsed.Add(v); continue; }
            if (_producer.TryGetValue(v, out var p))
            {
                needed.Add(p);
                foreach (var i in _order[p].Node.Inputs.Where(i => i.Length > 0).Reverse()) stack.Push(i);
            }
            else if (!_initializers.ContainsKey(v)) inputsUsed.Add(v); // a graph input without a default
        }
        List<string> inputs;
        if (inputName is not null)
        {
            var others = inputsUsed.Where(i => i != inputName).ToList();
            if (others.Count > 0)
                throw new OnnxImportException($"The output(s) {string.Join(", ", outputs.Select(o => $"'{o}'"))} need graph input(s) {string.Join(", ", others.Select(o => $"'{o}'"))} as well as InputName '{inputName}'. " +
                    "Leave InputName unset to import a network with several inputs (ForwardAll), or choose an output that depends on InputName only.");
            if (!inputsUsed.Contains(inputName))
                throw new OnnxImportException($"The output(s) {string.Join(", ", outputs.Select(o => $"'{o}'"))} do not depend on InputName '{inputName}'.");
            inputs = new List<string> { inputName };
        }
        else inputs = GraphInputs().Where(inputsUsed.Contains).ToList();
        foreach (var o in outputs)
            if (inputs.Contains(o)) throw new OnnxImportException($"Output '{o}' is the network's input itself; choose a value computed from it.");
        foreach (var (name, role) in inputs.Select(i => (i, "input")).Concat(outputs.Select(o => (o, "output"))))
        {
            var info = _graph.Inputs.Concat(_graph.Outputs).Concat(_graph.ValueInfo).FirstOrDefault(v => v.Name == name);
            if (info is { OtherType: not null })
                throw new OnnxImportException($"The network {role} '{name}' is not a tensor (a sequence, map, optional or sparse value); the importer handles tensors only.");
            if (info is { ElemType: OnnxDataType.String })
                throw new OnnxImportException($"The network {role} '{name}' holds strings; the importer handles numeric and boolean tensors only." +
                    (role == "output" ? " Cut the graph before it with OnnxImportOptions.OutputName." : ""));
        }
        return (inputs, needed.ToList());
    }

    private IEnumerable<string> GraphInputs() => _graph.Inputs.Select(i => i.Name).Where(n => !_initializers.ContainsKey(n));

    private void CheckSupported(List<int> needed)
    {
        var bad = needed.Select(p => _order[p]).Where(n => !(n.Node.Domain is "" or "ai.onnx") || OnnxOperators.Find(n.Node.OpType) is null).ToList();
        if (bad.Count == 0) return;
        var first = bad[0];
        var kinds = bad.GroupBy(b => b.Node.Domain is "" or "ai.onnx" ? b.Node.OpType : $"{b.Node.Domain}.{b.Node.OpType}")
            .Select(g => $"{g.Key} ({g.Count()} node{(g.Count() > 1 ? "s" : "")})");
        string domain = first.Node.Domain is "" or "ai.onnx" ? "" : $" of domain '{first.Node.Domain}'";
        throw new OnnxImportException(
            $"Cannot import node '{Label(first)}' ({first.Node.OpType}{domain}, opset {Opset}): the importer does not support this operator. " +
            $"Unsupported in this graph: {string.Join(", ", kinds)}. Supported: {string.Join(", ", OnnxOperators.Supported)}. " +
            "To use the part of the graph before it, set OnnxImportOptions.OutputName to a value computed earlier.",
            Label(first), first.Node.OpType);
    }

    private void BuildRuntime(OnnxImportOptions options, List<string> inputs, List<string> outputs, List<int> needed)
    {
        var outputSet = outputs.ToHashSet(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<(int Position, int Input)>>(StringComparer.Ordinal);
        foreach (var p in needed)
        {
            var node = _order[p].Node;
            for (int i = 0; i < node.Inputs.Count; i++)
                if (node.Inputs[i].Length > 0)
                    (consumers.TryGetValue(node.Inputs[i], out var l) ? l : consumers[node.Inputs[i]] = new()).Add((p, i));
        }

        // initializers: parameter, buffer (statistics) or constant, by the roles of the inputs that read them
        var kind = new Dictionary<string, SourceKind>(StringComparer.Ordinal);
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var initTensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, proto) in _initializers)
        {
            if (!consumers.TryGetValue(name, out var uses) || inputs.Contains(name)) continue;
            var value = OnnxTensors.ToTensor(proto, $"Initializer '{name}'");
            var roles = uses.Select(u => OnnxOperators.Find(_order[u.Position].Node.OpType)!.Roles(Opset, u.Input)).ToList();
            bool floating = is_floating_point(value);
            SourceKind k;
            if (!floating) k = SourceKind.None;
            else if (roles.Contains(InputRole.Weight) || (roles.Contains(InputRole.Data) && value.numel() > 1)) k = SourceKind.Parameter;
            else if (roles.Contains(InputRole.Statistic)) k = SourceKind.Buffer;
            else k = SourceKind.None;
            if (k == SourceKind.None) constants[name] = value;
            else { kind[name] = k; initTensors[name] = value; }
        }

        // nodes in order: built once; folded when every input is a constant
        var runtime = new List<RuntimeNode>();
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var i in inputs) slots[i] = slots.Count;
        bool OutputUsed(string v) => outputSet.Contains(v) || consumers.ContainsKey(v);
        var pendingSources = new List<(RuntimeNode Node, int Input, string Value)>();
        var runtimeConstants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in needed)
        {
            var (proto, index) = _order[p];
            var def = OnnxOperators.Find(proto.OpType)!;
            var node = new ImportNode(proto, index, Opset,
                i => constants.GetValueOrDefault(proto.Inputs[i]),
                i => OutputUsed(proto.Outputs[i]));
            OpRun run;
            try { run = def.Build(node); }
            catch (OnnxImportException) { throw; }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException or NotSupportedException)
            {
                throw node.Error(e.Message);
            }
            var present = Enumerable.Range(0, proto.Inputs.Count).Where(node.HasInput).ToList();
            if (def.Foldable && present.All(i => constants.ContainsKey(proto.Inputs[i])))
            {
                var args = Enumerable.Range(0, proto.Inputs.Count).Select(i => node.HasInput(i) ? constants[proto.Inputs[i]] : null).ToArray();
                Tensor[] results;
                using (no_grad())
                {
                    try { results = run(OpContext.Folding, args); }
                    catch (OnnxImportException) { throw; }
                    catch (Exception e) { throw node.Error($"folding it at import (all its inputs are constants) failed: {e.Message}"); }
                }
                for (int o = 0; o < proto.Outputs.Count && o < results.Length; o++)
                    if (proto.Outputs[o].Length > 0)
                        constants[proto.Outputs[o]] = args.Any(a => ReferenceEquals(a, results[o])) ? results[o].alias() : results[o];
                continue;
            }
            var sources = new InputSource[proto.Inputs.Count];
            var rn = new RuntimeNode
            {
                Node = node,
                Run = run,
                Inputs = sources,
                OutputSlots = proto.Outputs.Select(o => o.Length > 0 && OutputUsed(o) ? slots[o] = slots.Count : -1).ToArray(),
            };
            for (int i = 0; i < proto.Inputs.Count; i++)
            {
                if (!node.HasInput(i)) continue;
                var v = proto.Inputs[i];
                var role = def.Roles(Opset, i);
                if (slots.TryGetValue(v, out var s)) sources[i] = new InputSource(SourceKind.Slot, s);
                else if (constants.ContainsKey(v))
                {
                    if (role == InputRole.Static) continue; // taken at import by the op
                    pendingSources.Add((rn, i, v));
                    runtimeConstants.Add(v);
                }
                else pendingSources.Add((rn, i, v)); // a parameter or buffer: its block is known once blocks are made
            }
            runtime.Add(rn);
        }

        // outputs that are constants (or parameters) come from an Identity node over a buffer
        foreach (var o in outputs.Where(o => !slots.ContainsKey(o)))
        {
            if (!constants.ContainsKey(o) && !initTensors.ContainsKey(o))
                throw new OnnxImportException($"Output '{o}' is not computed by the imported nodes.");
            var identity = OnnxOperators.Find("Identity")!;
            var proto = new NodeProto { OpType = "Identity", Name = $"output_{o}", Inputs = { o }, Outputs = { o } };
            var node = new ImportNode(proto, -1, Opset, _ => null, _ => true);
            var rn = new RuntimeNode { Node = node, Run = identity.Build(node), Inputs = new InputSource[1], OutputSlots = new[] { slots[o] = slots.Count } };
            pendingSources.Add((rn, 0, o));
            if (constants.ContainsKey(o)) runtimeConstants.Add(o);
            runtime.Add(rn);
        }

        SlotCount = slots.Count;
        InputNames = inputs.ToArray();
        InputSlots = inputs.Select(i => slots[i]).ToArray();
        InputInfo = inputs.Select(i => _graph.Inputs.FirstOrDefault(g => g.Name == i) ?? _graph.ValueInfo.FirstOrDefault(g => g.Name == i)).ToArray();
        OutputNames = outputs.ToArray();
        OutputSlots = outputs.Select(o => slots[o]).ToArray();
        if (InputInfo.Length > 0 && InputInfo[0] is { HasShape: true, Shape.Count: > 0 } info && info.Shape[0] is long batch && batch > 0) DeclaredBatch = batch;

        MarkLastUses(runtime);
        Partition(runtime, options.MergeSmallBlocks);
        EvalFusion.FoldBatchNormIntoConv(Blocks, OutputSlots);

        // register each parameter, buffer and run-time constant in the first block that reads it
        var owner = new Dictionary<string, (int Block, string Name)>(StringComparer.Ordinal);
        var blockOf = new Dictionary<RuntimeNode, int>();
        for (int b = 0; b < Blocks.Count; b++) foreach (var n in Blocks[b].Nodes) blockOf[n] = b;
        foreach (var (rn, i, v) in pendingSources)
        {
            int b = blockOf[rn];
            if (!owner.TryGetValue(v, out var o))
            {
                var local = UniqueName(Blocks[b], v);
                bool isConstant = runtimeConstants.Contains(v) && !initTensors.ContainsKey(v);
                var value = isConstant ? constants[v] : initTensors[v];
                var k = isConstant ? SourceKind.Buffer : kind[v];
                Blocks[b].Tensors.Add(new BlockTensor(local, v, value, k == SourceKind.Parameter, Persistent: !isConstant));
                owner[v] = o = (b, local);
                if (isConstant) constants.Remove(v);
                else initTensors.Remove(v);
            }
            var sourceKind = Blocks[o.Block].Tensors.First(t => t.Name == o.Name).Trainable ? SourceKind.Parameter : SourceKind.Buffer;
            rn.Inputs[i] = new InputSource(sourceKind, Owner: o.Block, Name: o.Name);
        }
        // what was only needed at import
        var kept = new HashSet<Tensor>(Blocks.SelectMany(b => b.Tensors).Select(t => t.Value), ReferenceEqualityComparer.Instance);
        foreach (var t in constants.Values.Concat(initTensors.Values).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>())
            if (!kept.Contains(t)) t.Dispose();
    }

    private static string UniqueName(BlockPlan block, string onnxName)
    {
        // TorchSharp's names: no dots (they separate module paths); keep letters, digits and underscores
        var chars = onnxName.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_').ToArray();
        var name = chars.Length == 0 ? "value" : new string(chars);
        var candidate = name;
        for (int i = 2; block.Tensors.Any(t => t.Name == candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    private void MarkLastUses(List<RuntimeNode> runtime)
    {
        var last = new Dictionary<int, RuntimeNode>();
        foreach (var rn in runtime)
            foreach (var s in rn.Inputs.Where(s => s.Kind == SourceKind.Slot)) last[s.Slot] = rn;
        var keep = OutputSlots.Concat(InputSlots).ToHashSet();
        foreach (var (slot, rn) in last)
            if (!keep.Contains(slot)) rn.LastUseOf.Add(slot);
        // outputs nobody reads after they are made (a node's unused optional outputs have no slot)
        foreach (var rn in runtime)
            foreach (var s in rn.OutputSlots.Where(s => s >= 0 && !last.ContainsKey(s) && !keep.Contains(s))) rn.LastUseOf.Add(s);
    }

    /// <summary>Cuts the run-time nodes where one value is live; merges blocks without a Conv/Gemm/MatMul into a neighbour.</summary>
    private void Partition(List<RuntimeNode> runtime, bool merge)
    {
        var lastUse = new Dictionary<int, int>();
        for (int p = 0; p < runtime.Count; p++)
            foreach (var s in runtime[p].Inputs.Where(s => s.Kind == SourceKind.Slot)) lastUse[s.Slot] = p;
        var outputs = OutputSlots.ToHashSet();
        var live = new HashSet<int>(InputSlots);
        var cuts = new List<(int After, int Slot)>();
        for (int p = 0; p < runtime.Count; p++)
        {
            foreach (var s in runtime[p].OutputSlots.Where(s => s >= 0))
                if (lastUse.GetValueOrDefault(s, -1) > p || outputs.Contains(s)) live.Add(s);
            live.RemoveWhere(s => lastUse.GetValueOrDefault(s, -1) <= p && !outputs.Contains(s));
            if (live.Count == 1 && p < runtime.Count - 1 && !outputs.Contains(live.First())) cuts.Add((p, live.First()));
        }
        // segments between cuts
        var segments = new List<(int From, int To, int InSlot, int OutSlot)>();
        int start = 0, inSlot = -1;
        foreach (var (after, slot) in cuts)
        {
            segments.Add((start, after, inSlot, slot));
            start = after + 1;
            inSlot = slot;
        }
        segments.Add((start, runtime.Count - 1, inSlot, -1));

        bool Primary(int from, int to) => runtime.Skip(from).Take(to - from + 1).Any(n => PrimaryOps.Contains(n.Node.OpType));
        var merged = new List<(int From, int To, int InSlot, int OutSlot)>();
        if (merge && segments.Any(s => Primary(s.From, s.To)))
        {
            (int From, int To, int InSlot, int OutSlot)? pending = null; // leading segments without a primary op join the next
            foreach (var s in segments)
            {
                var cur = pending is { } pd ? (pd.From, s.To, pd.InSlot, s.OutSlot) : s;
                if (!Primary(cur.Item1, cur.Item2))
                {
                    if (merged.Count > 0) { var last = merged[^1]; merged[^1] = (last.From, cur.Item2, last.InSlot, cur.Item4); pending = null; }
                    else pending = cur;
                    continue;
                }
                merged.Add(cur);
                pending = null;
            }
            if (pending is { } rest) merged.Add(rest);
        }
        else if (merge) merged.Add((0, runtime.Count - 1, -1, -1));
        else merged = segments;

        foreach (var (from, to, i, o) in merged)
        {
            var block = new BlockPlan { InputSlot = i, OutputSlot = o };
            block.Nodes.AddRange(runtime.Skip(from).Take(to - from + 1));
            Blocks.Add(block);
        }
        if (Blocks.Count == 0) Blocks.Add(new BlockPlan());
        var slotNames = new Dictionary<int, string>();
        for (int k = 0; k < InputSlots.Length; k++) slotNames[InputSlots[k]] = InputNames[k];
        foreach (var rn in runtime)
            for (int k = 0; k < rn.OutputSlots.Length; k++)
                if (rn.OutputSlots[k] >= 0) slotNames[rn.OutputSlots[k]] = rn.Node.Proto.Outputs[k];
        foreach (var b in Blocks)
        {
            b.InputValue = b.InputSlot >= 0 ? slotNames[b.InputSlot] : string.Join(", ", InputNames);
            b.OutputValue = b.OutputSlot >= 0 ? slotNames[b.OutputSlot] : string.Join(", ", OutputNames);
        }
    }
}
