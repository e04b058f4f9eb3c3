namespace MLNetDeep.Datasets;

/// <summary>One image file and its class: what <c>LoadImages</c> reads.</summary>
public sealed class ImageFile
{
    /// <summary>Full path of the PNG file.</summary>
    public string ImagePath { get; set; } = "";
    /// <summary>The class (the category folder's name, e.g. "mammals").</summary>
    public string Label { get; set; } = "";
}

/// <summary>
/// Real clip art of many sizes (mostly RGBA PNGs from 100 × 100 to A4 pages) in category folders, from Debian's
/// <c>openclipart-png</c> package (<c>/usr/share/openclipart/png</c>): a small real image set of several classes for
/// transfer learning. Only file paths are returned; decode them with ML.NET's <c>LoadImages</c>.
/// </summary>
public static class OpenClipArt
{
    /// <summary>Where Debian's openclipart-png puts the categories.</summary>
    public const string DebianDirectory = "/usr/share/openclipart/png";

    /// <summary>Five categories of 62 to 126 drawings each: mammals, fruit, musical instruments and music, sports, vehicles.</summary>
    public static readonly IReadOnlyList<string> DefaultCategories = new[] { "animals/mammals", "food/fruit", "recreation/music", "recreation/sports", "transportation/vehicles" };

    /// <summary>
    /// A seeded split of the PNG files under each category folder (e.g. "animals/mammals"; sub-folders included): <paramref name="trainPerClass"/>
    /// training and <paramref name="testPerClass"/> test files per class, disjoint, the same for the same seed.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The package is not installed (apt-get install openclipart-png).</exception>
    /// <exception cref="ArgumentException">A category has fewer files than asked for.</exception>
    public static (List<ImageFile> Train, List<ImageFile> Test) Split(int trainPerClass, int testPerClass, IReadOnlyList<string>? categories = null,
        int seed = 0, string directory = DebianDirectory)
    {
        if (trainPerClass <= 0) throw new ArgumentOutOfRangeException(nameof(trainPerClass), trainPerClass, $"trainPerClass must be > 0. Received: {trainPerClass}");
        if (testPerClass < 0) throw new ArgumentOutOfRangeException(nameof(testPerClass), testPerClass, $"testPerClass must be >= 0. Received: {testPerClass}");
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory} does not exist: install Debian's openclipart-png (apt-get install openclipart-png; bash scripts/setup.sh does).");
        var train = new List<ImageFile>();
        var test = new List<ImageFile>();
        foreach (var category in categories ?? DefaultCategories)
        {
            var folder = Path.Combine(directory, category);
            if (!Directory.Exists(folder))
                throw new ArgumentException($"There is no category '{category}' in {directory}. Categories: {string.Join(", ", Directory.GetDirectories(directory).Select(Path.GetFileName))}.", nameof(categories));
            var files = Directory.GetFiles(folder, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (files.Length < trainPerClass + testPerClass)
                throw new ArgumentException($"Category '{category}' has {files.Length} images; {trainPerClass} + {testPerClass} were asked for.", nameof(trainPerClass));
            new Random(unchecked(seed * 7919 + category.Aggregate(17, (h, c) => h * 31 + c))).Shuffle(files); // a stable seed per category (string hashes vary by process)
            train.AddRange(files.Take(trainPerClass).Select(f => new ImageFile { ImagePath = f, Label = Path.GetFileName(category) }));
            test.AddRange(files.Skip(trainPerClass).Take(testPerClass).Select(f => new ImageFile { ImagePath = f, Label = Path.GetFileName(category) }));
        }
        return (train, test);
    }
}
