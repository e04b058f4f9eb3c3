namespace MLNetDeep.MLNetInternals;

/// <summary>
/// Finds a class of an optional MLNetDeep package by name (e.g. MLNetDeep.Onnx's Model.Save route), so the core can use it
/// when the application references that package without referencing it itself (it would pull ONNX Runtime into every
/// application). Loading a type by name is reflection, kept here with the rest of it.
/// </summary>
internal static class Satellites
{
    /// <summary>
    /// A new instance of the type named <paramref name="assemblyQualifiedName"/> (its parameterless constructor may be
    /// internal), or null when its assembly is not part of the application.
    /// </summary>
    public static T? Create<T>(string assemblyQualifiedName) where T : class
    {
        Type? type;
        try { type = Type.GetType(assemblyQualifiedName, throwOnError: false); }
        catch (Exception e) when (e is FileLoadException or BadImageFormatException) { type = null; }
        return type is null ? null : (T)Activator.CreateInstance(type, nonPublic: true)!;
    }
}
