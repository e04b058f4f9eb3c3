namespace MLNetDeep.Models;

/// <summary>
/// The module names MLNetDeep's networks are built with, named once: transfer learning freezes and re-initialises by
/// them, the ONNX exporter finds layers by them, pretraining finds the dense head by them, and diagnostics report them.
/// The networks' field names (<c>body</c>, <c>flatten</c>, <c>head</c>, registered by <c>RegisterComponents</c>) give the
/// top-level names, so those fields must keep these names.
/// </summary>
public static class ModulePaths
{
    /// <summary>The convolutional (or other) body of a network.</summary>
    public const string Body = "body";
    /// <summary>What turns the body's output into the head's input vector (CNN: flatten or global average pooling).</summary>
    public const string Flatten = "flatten";
    /// <summary>The dense head every family ends with.</summary>
    public const string Head = "head";
    /// <summary>The dense head's Sequential: dense{i}, [dense{i}_bn], dense{i}_act, [dense{i}_dropout] …, output.</summary>
    public const string HeadLayers = Head + ".layers";
    /// <summary>The dense head's output layer (what a new task replaces).</summary>
    public const string OutputLayer = HeadLayers + ".output";

    /// <summary>The name of the body's block <paramref name="index"/> inside the body ("block0", ...).</summary>
    public static string BlockName(int index) => $"block{index}";

    /// <summary>The full path of the body's block <paramref name="index"/> ("body.block0", ...).</summary>
    public static string Block(int index) => $"{Body}.{BlockName(index)}";
}
