using Microsoft.ML;

namespace MLNetDeep.Datasets;

/// <summary>
/// The classic real benchmark tables of R's <c>mlbench</c> package (UCI repository data: LetterRecognition, Satellite,
/// PimaIndiansDiabetes, BostonHousing, Shuttle, …), read from the .rda files Debian's <c>r-cran-mlbench</c> package
/// installs. Each data-frame column becomes an IDataView column under its R name: numbers as Single (NA = NaN),
/// factors and strings as text (NA = empty). Build the feature vector with Concatenate (after OneHotEncoding for text
/// columns) and scale it with NormalizeMeanVariance, as for any ML.NET table.
/// </summary>
public static class Mlbench
{
    /// <summary>Where Debian's r-cran-mlbench package puts the data files.</summary>
    public const string DebianDirectory = "/usr/lib/R/site-library/mlbench/data";

    /// <summary>Rows of LetterRecognition used for training by its documentation (the first 16,000; the last 4,000 are the test rows).</summary>
    public const int LetterTrainingRows = 16_000;

    /// <summary>LetterRecognition's label column: the capital letter, "A" to "Z".</summary>
    public const string LetterLabel = "lettr";

    /// <summary>LetterRecognition's 16 integer features (0–15): box position and size, pixel counts, moments and edge counts.</summary>
    public static readonly IReadOnlyList<string> LetterFeatures = new[]
    {
        "x.box", "y.box", "width", "high", "onpix", "x.bar", "y.bar", "x2bar", "y2bar", "xybar", "x2ybr", "xy2br", "x.ege", "xegvy", "y.ege", "yegvx",
    };

    /// <summary>
    /// The data set <paramref name="name"/> (e.g. "LetterRecognition", "Satellite", "BostonHousing") as an IDataView with
    /// one column per data-frame column.
    /// </summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="name">The data set's name in mlbench (its .rda file's name).</param>
    /// <param name="directory">The folder of the .rda files; null = <see cref="DebianDirectory"/>.</param>
    public static IDataView Load(MLContext mlContext, string name, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        directory ??= DebianDirectory;
        string path = Path.Combine(directory, name + ".rda");
        if (!File.Exists(path))
        {
            string present = Directory.Exists(directory)
                ? " Data sets there: " + string.Join(", ", Directory.GetFiles(directory, "*.rda").Select(Path.GetFileNameWithoutExtension).Order()) + "."
                : "";
            throw new FileNotFoundException(
                $"The mlbench data set '{name}' was not found at '{path}'.{present} On Debian/Ubuntu install the data with " +
                "'apt-get install r-cran-mlbench' (or run scripts/setup.sh), or pass the folder holding the .rda files.", path);
        }
        var frames = RData.ReadDataFrames(path);
        if (!frames.TryGetValue(name, out var columns))
        {
            if (frames.Count != 1) throw new InvalidDataException($"'{path}' holds no data frame named '{name}' (it holds: {string.Join(", ", frames.Keys)}).");
            columns = frames.Values.Single();
        }
        return new ColumnarDataView(columns.Select(c => (c.Name, c.Numbers?.Select(v => (float)v).ToArray(), c.Texts)).ToList());
    }

    /// <summary>
    /// LetterRecognition (Frey &amp; Slate, 1991: 20,000 rows, 16 integer features of a letter's image, 26 classes) split as its
    /// documentation does: the first 16,000 rows to train on, the last 4,000 to test. Columns: <see cref="LetterLabel"/> (text)
    /// and the 16 <see cref="LetterFeatures"/> (Single).
    /// </summary>
    public static IDataView LetterRecognition(MLContext mlContext, bool train, string? directory = null)
    {
        var all = Load(mlContext, "LetterRecognition", directory);
        return train ? mlContext.Data.TakeRows(all, LetterTrainingRows) : mlContext.Data.SkipRows(all, LetterTrainingRows);
    }
}
