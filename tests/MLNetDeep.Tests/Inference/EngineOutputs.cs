using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Inference;
using MLNetDeep.Scoring;
using Xunit;

namespace MLNetDeep.Tests.Inference;

/// <summary>A scored view's output columns (Score, Probability, PredictedLabel) as flat lists, for comparing two engines.</summary>
internal sealed class EngineOutputs
{
    private static readonly string[] Columns = { "Score", "Probability", "PredictedLabel" };

    public Dictionary<string, List<float>> Values { get; } = new();
    /// <summary>Values per row of each column (a row's steps × classes for tagging), to check nothing ran into the next row.</summary>
    public Dictionary<string, List<int>> RowSizes { get; } = new();

    /// <summary>Sets <paramref name="engine"/> on <paramref name="model"/>, checks it is the one that scores, and reads <paramref name="pipeline"/>'s outputs on <paramref name="data"/>.</summary>
    public static EngineOutputs Of(ITransformer pipeline, DeepTransformer model, IDataView data, ScoringEngine engine)
    {
        model.ScoringEngine = engine;
        Assert.Equal(engine, model.ActiveScoringEngine);
        return Read(pipeline.Transform(data));
    }

    /// <summary>The output columns of a scored view.</summary>
    public static EngineOutputs Read(IDataView scored)
    {
        var result = new EngineOutputs();
        foreach (var column in scored.Schema.Where(c => !c.IsHidden && Columns.Contains(c.Name)))
        {
            var rows = ReadColumn(scored, column).ToList();
            result.Values[column.Name] = rows.SelectMany(r => r).ToList();
            result.RowSizes[column.Name] = rows.Select(r => r.Length).ToList();
        }
        return result;
    }

    private static IEnumerable<float[]> ReadColumn(IDataView scored, DataViewSchema.Column column) => column.Type switch
    {
        NumberDataViewType t when t.RawType == typeof(float) => scored.GetColumn<float>(column).Select(v => new[] { v }),
        BooleanDataViewType => scored.GetColumn<bool>(column).Select(v => new[] { v ? 1f : 0f }),
        KeyDataViewType => scored.GetColumn<uint>(column).Select(v => new[] { (float)v }),
        VectorDataViewType { ItemType: KeyDataViewType } => scored.GetColumn<uint[]>(column).Select(v => v.Select(k => (float)k).ToArray()),
        VectorDataViewType => scored.GetColumn<float[]>(column),
        _ => throw new InvalidOperationException($"Unexpected output column {column.Name}: {column.Type}"),
    };

    /// <summary>
    /// Asserts the same columns, rows and row sizes, predicted labels equal, and returns the largest absolute difference of
    /// the scores and probabilities.
    /// </summary>
    public double CompareTo(EngineOutputs other)
    {
        Assert.Equal(Values.Keys.OrderBy(k => k), other.Values.Keys.OrderBy(k => k));
        Assert.NotEmpty(Values);
        double worst = 0;
        foreach (var (name, expected) in Values)
        {
            Assert.Equal(RowSizes[name], other.RowSizes[name]);
            var actual = other.Values[name];
            if (name == "PredictedLabel")
            {
                Assert.Equal(expected, actual);
                continue;
            }
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.True(float.IsFinite(actual[i]), $"{name}[{i}] = {actual[i]}");
                worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
            }
        }
        return worst;
    }
}
