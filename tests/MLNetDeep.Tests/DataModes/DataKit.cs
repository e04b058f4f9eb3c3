using Microsoft.ML;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;

namespace MLNetDeep.Tests.DataModes;

/// <summary>Real Fashion-MNIST views for the data-mode tests: float pixels (0–1) and the same rows as bytes (0–255), one key mapping.</summary>
internal static class DataKit
{
    private static readonly Lazy<List<FashionMnistByteImage>> TrainBytes = new(() => FashionMnist.ReadBytes(train: true, take: 4000));
    private static readonly Lazy<List<FashionMnistByteImage>> TestBytes = new(() => FashionMnist.ReadBytes(train: false, take: 1000));

    /// <summary>The label mapping every view here shares (fitted on 2,000 training labels).</summary>
    public static ITransformer Key(MLContext ml) =>
        ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TestData.TrainImages(2000)));

    /// <summary>Training rows skip..skip+n with float pixels in [0, 1] (FashionMnist.Read: byte × (1f / 255)), key labels.</summary>
    public static IDataView Floats(MLContext ml, int n, int skip = 0, bool test = false) =>
        Key(ml).Transform(ml.Data.LoadFromEnumerable((test ? TestData.TestImages(skip + n) : TestData.TrainImages(skip + n)).Skip(skip).ToList()));

    /// <summary>The same rows with byte pixels 0–255, key labels.</summary>
    public static IDataView Bytes(MLContext ml, int n, int skip = 0, bool test = false) =>
        Key(ml).Transform(ml.Data.LoadFromEnumerable((test ? TestBytes.Value : TrainBytes.Value).Skip(skip).Take(n).ToList()));

    /// <summary>The small CNN of the tests (Tiny) with a data mode.</summary>
    public static CnnOptions Cnn(DataOptions data, int epochs = 2, bool shuffle = true, int seed = 4)
    {
        var o = Tiny.Options(epochs: epochs, seed: seed);
        o.Data = data;
        o.Shuffle = shuffle;
        return o;
    }

    public static DeepTransformer Fit(CnnOptions o, IDataView train, IDataView? validation = null) => ControlKit.Fit(o, train, validation);

    /// <summary>Every parameter and buffer of the network, flattened (bit-for-bit comparisons).</summary>
    public static List<(string Name, float[] Values)> State(DeepTransformer model) =>
        model.Network.state_dict().Where(p => p.Value.dtype == TorchSharp.torch.ScalarType.Float32)
            .Select(p => (p.Key, ControlKit.Flat(p.Value))).ToList();

    /// <summary>Names of the tensors that differ between two models (empty = bit-identical).</summary>
    public static List<string> Differences(DeepTransformer a, DeepTransformer b) =>
        State(a).Zip(State(b)).Where(p => !p.First.Values.AsSpan().SequenceEqual(p.Second.Values)).Select(p => p.First.Name).ToList();

    /// <summary>Resident memory of this process (VmRSS), MB.</summary>
    public static double RssMb() => double.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:"))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
}
