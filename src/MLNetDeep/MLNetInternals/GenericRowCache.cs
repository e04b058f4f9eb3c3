using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Scoring;

namespace MLNetDeep.MLNetInternals;

/// <summary>
/// The scoring cursor's cache for a column of a type outside ML.NET's standard ones (e.g. ImageAnalytics' MLImage):
/// <see cref="RowCache.For"/> covers every standard type without reflection; only these need a generic cache made for a
/// type known at run time, which takes reflection — kept here with the rest of it.
/// </summary>
internal static class GenericRowCache
{
    public static RowCache Create(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var type = typeof(ScalarCache<>).MakeGenericType(raw);
        var ctor = type.GetConstructor(new[] { typeof(DataViewRow), typeof(DataViewSchema.Column), typeof(int) })
                   ?? throw new InvalidOperationException($"MLNetDeep can't keep values of column '{column.Name}' ({column.Type}) while scoring.");
        try
        {
            return (RowCache)ctor.Invoke(new object[] { row, column, capacity });
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
