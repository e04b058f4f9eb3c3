using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using Xunit;

namespace MLNetDeep.Tests.Dense;

/// <summary>
/// The .rda reader behind <see cref="Mlbench"/> against R itself: Fixtures/mlbench_reference.json holds what R 4.2 reads from
/// the same Debian r-cran-mlbench files (row counts, column names, every numeric column's sum, factor levels with their
/// counts, NAs, first values), written by Fixtures/mlbench_reference.R, so CI needs no R.
/// </summary>
[Trait("Category", "Unit")]
public class MlbenchTests
{
    private static readonly JsonElement Reference =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "mlbench_reference.json"))).RootElement;

    [Theory]
    [InlineData("LetterRecognition")]   // 20,000 rows, a 26-level factor and 16 numeric columns
    [InlineData("Satellite")]           // 6,435 rows, 36 numeric columns
    [InlineData("BostonHousing")]       // a factor with levels "0"/"1" among reals
    [InlineData("PimaIndiansDiabetes")]
    [InlineData("BreastCancer")]        // NAs, ordered factors and a character column
    public void EveryColumnMatchesWhatRReads(string name)
    {
        var ml = new MLContext(seed: 1);
        var view = Mlbench.Load(ml, name);
        var expected = Reference.GetProperty(name);
        var columns = expected.GetProperty("columns").EnumerateArray().ToList();
        Assert.Equal(columns.Select(c => c.GetProperty("name").GetString()), view.Schema.Select(c => c.Name));
        Assert.Equal(expected.GetProperty("rows").GetInt32(), (int)view.GetRowCount()!);
        foreach (var c in columns)
        {
            string col = c.GetProperty("name").GetString()!;
            if (c.TryGetProperty("levels", out var levels))
            {
                var values = view.GetColumn<ReadOnlyMemory<char>>(col).Select(v => v.ToString()).ToList();
                var names = levels.EnumerateArray().Select(l => l.GetString()!).ToList();
                var counts = c.GetProperty("counts").EnumerateArray().Select(x => x.GetInt32()).ToList();
                for (int i = 0; i < names.Count; i++) Assert.Equal(counts[i], values.Count(v => v == names[i]));
                Assert.Equal(c.GetProperty("na").GetInt32(), values.Count(v => v.Length == 0));
                if (c.GetProperty("first").ValueKind == JsonValueKind.String) Assert.Equal(c.GetProperty("first").GetString(), values[0]);
            }
            else if (c.TryGetProperty("text", out _))
            {
                var values = view.GetColumn<ReadOnlyMemory<char>>(col).Select(v => v.ToString()).ToList();
                Assert.Equal(c.GetProperty("na").GetInt32(), values.Count(v => v.Length == 0));
                Assert.Equal(c.GetProperty("distinct").GetInt32(), values.Where(v => v.Length > 0).Distinct().Count());
                Assert.Equal(c.GetProperty("first").GetString(), values[0]);
            }
            else
            {
                var values = view.GetColumn<float>(col).ToList();
                double sum = values.Where(float.IsFinite).Sum(v => (double)v);
                double rSum = c.GetProperty("sum").GetDouble();
                Assert.True(Math.Abs(sum - rSum) <= 1e-6 * Math.Max(1, Math.Abs(rSum)), $"{name}.{col}: sum {sum} vs R's {rSum}");
                Assert.Equal(c.GetProperty("na").GetInt32(), values.Count(float.IsNaN));
                if (c.GetProperty("first").ValueKind == JsonValueKind.Number) Assert.Equal((float)c.GetProperty("first").GetDouble(), values[0]);
            }
        }
    }

    [Fact]
    public void LetterRecognitionSplitsAsItsDocumentationDoes()
    {
        var ml = new MLContext(seed: 1);
        var train = Mlbench.LetterRecognition(ml, train: true);
        var test = Mlbench.LetterRecognition(ml, train: false);
        Assert.Equal(16_000, train.GetColumn<float>("x.box").Count());
        var testLetters = test.GetColumn<ReadOnlyMemory<char>>(Mlbench.LetterLabel).Select(v => v.ToString()).ToList();
        Assert.Equal(4_000, testLetters.Count);
        Assert.Equal(26, testLetters.Distinct().Count());
        Assert.Equal(Mlbench.LetterFeatures.Prepend(Mlbench.LetterLabel), train.Schema.Select(c => c.Name));
    }

    [Fact]
    public void AMissingDataSetNamesThePackageAndTheSetsThere()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Mlbench.Load(new MLContext(), "NoSuchSet"));
        Assert.Contains("r-cran-mlbench", e.Message);
        Assert.Contains("LetterRecognition", e.Message);
    }

    [Fact]
    public void AFileThatIsNotRDataIsRefusedWithItsName()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-rda-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "Broken.rda"), "not an R file");
            var e = Assert.Throws<InvalidDataException>(() => Mlbench.Load(new MLContext(), "Broken", dir));
            Assert.Contains("Broken.rda", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
