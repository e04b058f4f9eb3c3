using Microsoft.ML;
using MLNetDeep.Datasets;

namespace MLNetDeep.Tests.Support;

/// <summary>Real Fashion-MNIST (Debian's dataset-fashion-mnist), read once per test run and shared.</summary>
public static class TestData
{
    private static readonly Lazy<List<FashionMnistImage>> Train = new(() => FashionMnist.Read(train: true, take: 20000));
    private static readonly Lazy<List<FashionMnistImage>> Test = new(() => FashionMnist.Read(train: false));

    /// <summary>The first <paramref name="n"/> training images (n ≤ 20,000).</summary>
    public static List<FashionMnistImage> TrainImages(int n) => Train.Value.Take(n).ToList();

    /// <summary>The first <paramref name="n"/> test images (n ≤ 10,000).</summary>
    public static List<FashionMnistImage> TestImages(int n) => Test.Value.Take(n).ToList();

    /// <summary>Training images as an IDataView (Features: Vector&lt;Single&gt;[784] in [0,1], Label: String).</summary>
    public static IDataView TrainView(MLContext ml, int n) => ml.Data.LoadFromEnumerable(TrainImages(n));

    /// <summary>Test images as an IDataView.</summary>
    public static IDataView TestView(MLContext ml, int n) => ml.Data.LoadFromEnumerable(TestImages(n));
}
