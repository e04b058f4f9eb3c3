using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes one network family (a <see cref="NetworkArchitecture"/> type) as ONNX nodes. Each family plugs
/// in its own exporter through <see cref="OnnxExporterRegistry"/>; the shared exporter adds the graph
/// input, the task head (softmax, sigmoid, label rescaling, predicted label) and the metadata.
/// </summary>
internal abstract class OnnxNetworkExporter
{
    /// <summary>The architecture type this exporter writes.</summary>
    public abstract Type ArchitectureType { get; }

    /// <summary>
    /// The graph input of one row, after the batch dimension: fixed sizes for images (flattened),
    /// e.g. [784]; sequence families declare a dynamic length here.
    /// </summary>
    public abstract IReadOnlyList<object> InputDims(NetworkArchitecture architecture);

    /// <summary>
    /// Emits the network from the graph input <paramref name="input"/> to its raw output [N, outputs] ([N, T, outputs] for sequence tagging)
    /// (logits, margins or standardised regression values) and returns that value's name.
    /// </summary>
    public abstract string Emit(OnnxExportContext context, string input);
}

/// <summary>What a family exporter needs: the graph, the options, the architecture and the trained modules.</summary>
internal sealed class OnnxExportContext
{
    private readonly Dictionary<string, nn.Module> _modules;
    private readonly HashSet<string> _usedParameters = new(StringComparer.Ordinal);

    public OnnxExportContext(OnnxGraphBuilder graph, OnnxExportOptions options, NetworkArchitecture architecture, DeepNetwork network)
    {
        Graph = graph;
        Options = options;
        Architecture = architecture;
        Network = network;
        _modules = network.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
    }

    public OnnxGraphBuilder Graph { get; }
    public OnnxExportOptions Options { get; }
    public NetworkArchitecture Architecture { get; }
    public DeepNetwork Network { get; }
    /// <summary>True when the input is one row already cut to MaxLength (the padded single-row front end did it).</summary>
    public bool InputPreTruncated { get; init; }

    /// <summary>The module at <paramref name="path"/> (e.g. "body.block0.conv"), checked to be a <typeparamref name="T"/>.</summary>
    public T Module<T>(string path, string layer) where T : nn.Module
    {
        if (!_modules.TryGetValue(path, out var module))
            throw new OnnxExportException(layer, $"the network has no module '{path}'; the model's architecture description and its modules disagree.");
        if (module is not T typed)
            throw new OnnxExportException(layer, $"module '{path}' is a {module.GetType().Name}, expected {typeof(T).Name}.");
        foreach (var (name, _) in module.named_parameters()) _usedParameters.Add($"{path}.{name}");
        foreach (var (name, _) in module.named_buffers()) _usedParameters.Add($"{path}.{name}");
        return typed;
    }

    /// <summary>True if the module at <paramref name="path"/> exists and is a <typeparamref name="T"/>.</summary>
    public bool Has<T>(string path) where T : nn.Module => _modules.TryGetValue(path, out var m) && m is T;

    /// <summary>Throws if the network has parameters or buffers that no emitted node used (the export would be wrong).</summary>
    public void CheckAllParametersUsed()
    {
        var unused = Network.named_parameters().Select(p => p.name)
            .Concat(Network.named_buffers().Select(b => b.name))
            .Where(n => !_usedParameters.Contains(n) && !n.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .ToList();
        if (unused.Count > 0)
            throw new OnnxExportException(Architecture.GetType().Name,
                $"the network has weights the exporter did not write: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", ..." : "")}. " +
                "This network type is newer than its ONNX exporter.");
    }
}

/// <summary>The exporters of every network family, by architecture type.</summary>
internal static class OnnxExporterRegistry
{
    private static readonly Dictionary<Type, OnnxNetworkExporter> Exporters = new();

    static OnnxExporterRegistry()
    {
        Register(new CnnOnnxExporter());
        Register(new SequenceOnnxExporter());
        Register(new MlpOnnxExporter());
        Register(new CustomOnnxExporter());
        Register(new BackboneOnnxExporter());
    }

    /// <summary>Adds (or replaces) the exporter of a family.</summary>
    public static void Register(OnnxNetworkExporter exporter)
    {
        lock (Exporters) Exporters[exporter.ArchitectureType] = exporter;
    }

    /// <summary>The exporter for <paramref name="architecture"/>, or a clear error when its family has none.</summary>
    public static OnnxNetworkExporter For(NetworkArchitecture architecture)
    {
        lock (Exporters)
        {
            for (var t = architecture.GetType(); t is not null && t != typeof(object); t = t.BaseType)
                if (Exporters.TryGetValue(t, out var e)) return e;
        }
        throw new OnnxExportException(architecture.GetType().Name,
            $"there is no ONNX exporter for {architecture.GetType().Name} networks yet (exportable: {string.Join(", ", Families())}).");
    }

    private static IEnumerable<string> Families()
    {
        lock (Exporters) return Exporters.Keys.Select(k => k.Name).ToList();
    }
}
