using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNetDeep.MLNetInternals;

/// <summary>
/// The only place MLNetDeep reaches into ML.NET members that are not public (ML.NET 5.0.1).
/// Each member is looked up once; if a future ML.NET renames it, <see cref="SelfCheck"/> (run by a
/// test) fails with the member's name instead of a trainer failing later.
/// </summary>
internal static class MLNetBridge
{
    // SchemaShape.Column(string name, VectorKind vecKind, DataViewType itemType, bool isKey, SchemaShape annotations)
    private static readonly ConstructorInfo? ColumnCtor = typeof(SchemaShape.Column).GetConstructor(
        BindingFlags.Instance | BindingFlags.NonPublic, null,
        new[] { typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape) },
        null);

    // TrainCatalogBase.CatalogInstantiatorBase.Owner -> TrainCatalogBase.Environment
    private static readonly PropertyInfo? OwnerProperty =
        typeof(TrainCatalogBase.CatalogInstantiatorBase).GetProperty("Owner", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly PropertyInfo? EnvironmentProperty =
        typeof(TrainCatalogBase).GetProperty("Environment", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>Creates a <see cref="SchemaShape.Column"/> (its constructor is internal).</summary>
    public static SchemaShape.Column MakeColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType,
        bool isKey, SchemaShape? annotations = null)
    {
        if (ColumnCtor is null) throw Broken("SchemaShape.Column..ctor(string, VectorKind, DataViewType, bool, SchemaShape)");
        return (SchemaShape.Column)ColumnCtor.Invoke(new object?[] { name, kind, itemType, isKey, annotations ?? new SchemaShape(Array.Empty<SchemaShape.Column>()) });
    }

    /// <summary>The <see cref="IHostEnvironment"/> (the MLContext) behind a trainers catalog, for logging.</summary>
    public static IHostEnvironment GetEnvironment(TrainCatalogBase.CatalogInstantiatorBase catalog)
    {
        if (OwnerProperty is null) throw Broken("TrainCatalogBase.CatalogInstantiatorBase.Owner");
        if (EnvironmentProperty is null) throw Broken("TrainCatalogBase.Environment");
        var owner = OwnerProperty.GetValue(catalog) ?? throw Broken("TrainCatalogBase.CatalogInstantiatorBase.Owner (null)");
        return (IHostEnvironment)(EnvironmentProperty.GetValue(owner) ?? throw Broken("TrainCatalogBase.Environment (null)"));
    }

    /// <summary>
    /// The seed the MLContext was created with (<c>new MLContext(seed: 1)</c>), or null when it has none. ML.NET keeps it on
    /// an internal interface of the environment (IHostEnvironmentInternal.Seed).
    /// </summary>
    public static int? GetSeed(IHostEnvironment env)
    {
        var property = SeedProperty(env.GetType()) ?? throw Broken("IHostEnvironmentInternal.Seed");
        return (int?)property.GetValue(env);
    }

    private static PropertyInfo? SeedProperty(Type environment) =>
        environment.GetInterfaces().Where(i => i.Name == "IHostEnvironmentInternal")
            .Select(i => i.GetProperty("Seed", BindingFlags.Instance | BindingFlags.Public)).FirstOrDefault(p => p?.PropertyType == typeof(int?));

    /// <summary>Throws if any member this file relies on is missing from the loaded ML.NET.</summary>
    public static void SelfCheck()
    {
        if (ColumnCtor is null) throw Broken("SchemaShape.Column..ctor");
        if (OwnerProperty is null) throw Broken("TrainCatalogBase.CatalogInstantiatorBase.Owner");
        if (EnvironmentProperty is null) throw Broken("TrainCatalogBase.Environment");
        if (SeedProperty(typeof(MLContext)) is null) throw Broken("IHostEnvironmentInternal.Seed");
    }

    private static InvalidOperationException Broken(string member) => new(
        $"MLNetDeep relies on the non-public ML.NET member {member}, which this version of Microsoft.ML " +
        $"({typeof(MLContext).Assembly.GetName().Version}) does not have. MLNetDeep is built against Microsoft.ML 5.0.1; " +
        "use that version or update MLNetDeep's MLNetInternals/MLNetBridge.cs.");
}
