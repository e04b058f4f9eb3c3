namespace MLNetDeep.Runtime;

/// <summary>
/// Parts of MLNetDeep that live in optional packages (MLNetDeep.Onnx, which references ONNX Runtime) and are found by
/// type name, so this library needs no reference to them.
/// </summary>
internal static class OptionalPackage
{
    /// <summary>
    /// A new instance of the type <paramref name="assemblyQualifiedName"/> (made with its parameterless constructor, public
    /// or not), or null when its assembly is not part of the application.
    /// </summary>
    public static T? Create<T>(string assemblyQualifiedName) where T : class
    {
        Type? type;
        try { type = Type.GetType(assemblyQualifiedName, throwOnError: false); }
        catch (Exception e) when (e is FileLoadException or BadImageFormatException) { type = null; }
        return type is null ? null : (T)Activator.CreateInstance(type, nonPublic: true)!;
    }
}
