using Microsoft.ML;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Support;

namespace MLNetDeep.Tests.Pretraining;

/// <summary>The pretraining tests' setting: 500 labeled Fashion-MNIST images (and 2,000 test images) plus 10,000 unlabeled ones.</summary>
internal static class FewLabels
{
    public static readonly MLContext Ml = new(seed: 1);
    public static readonly Lazy<(IDataView Train, IDataView Test)> Labeled = new(() => ControlKit.Data(Ml, 500, 2000));
    /// <summary>Images 500..10,499 of the training split, without their labels.</summary>
    public static readonly Lazy<IDataView> Unlabeled = new(() =>
        Ml.Transforms.DropColumns("Label").Fit(TestData.TrainView(Ml, 10)).Transform(Ml.Data.LoadFromEnumerable(TestData.TrainImages(10500).Skip(500).ToList())));
}
