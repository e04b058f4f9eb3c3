using Microsoft.ML;
using MLNetDeep.Datasets;

namespace MLNetDeep.Tests.Dense;

/// <summary>Real tables from Debian's r-cran-mlbench, with the ordinary ML.NET featurisation in front of an MLP.</summary>
internal static class TabularData
{
    /// <summary>LetterRecognition's documented split: 16,000 training rows (or the first <paramref name="take"/>), 4,000 test rows.</summary>
    public static (IDataView Train, IDataView Test) Letters(MLContext ml, int? take = null)
    {
        var train = Mlbench.LetterRecognition(ml, train: true);
        if (take is int n) train = ml.Data.TakeRows(train, n);
        return (train, Mlbench.LetterRecognition(ml, train: false));
    }

    /// <summary>Concatenate the 16 features, standardise them, key the letter.</summary>
    public static IEstimator<ITransformer> LetterFeaturisation(MLContext ml) =>
        ml.Transforms.Concatenate("Features", Mlbench.LetterFeatures.ToArray())
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label", Mlbench.LetterLabel));

    /// <summary>Wisconsin breast cancer (699 rows): nine 1–10 grades stored as factors (one NA-bearing) → one-hot; Label = malignant.</summary>
    public static (IDataView Train, IDataView Test) BreastCancer(MLContext ml)
    {
        var split = ml.Data.TrainTestSplit(Mlbench.Load(ml, "BreastCancer"), testFraction: 0.3, seed: 1);
        return (split.TrainSet, split.TestSet);
    }

    public static readonly string[] BreastCancerGrades =
        { "Cl.thickness", "Cell.size", "Cell.shape", "Marg.adhesion", "Epith.c.size", "Bare.nuclei", "Bl.cromatin", "Normal.nucleoli", "Mitoses" };

    public static IEstimator<ITransformer> BreastCancerFeaturisation(MLContext ml) =>
        ml.Transforms.Categorical.OneHotEncoding(BreastCancerGrades.Select(c => new InputOutputColumnPair(c + "_hot", c)).ToArray())
            .Append(ml.Transforms.Concatenate("Features", BreastCancerGrades.Select(c => c + "_hot").ToArray()))
            .Append(ml.Transforms.Conversion.MapValue("Label", new[] { new KeyValuePair<string, bool>("malignant", true), new KeyValuePair<string, bool>("benign", false) }, "Class"));

    /// <summary>Boston housing (506 rows): 12 numeric columns and the Charles-river factor; Label = median value (k$).</summary>
    public static (IDataView Train, IDataView Test) Boston(MLContext ml)
    {
        var split = ml.Data.TrainTestSplit(Mlbench.Load(ml, "BostonHousing"), testFraction: 0.25, seed: 1);
        return (split.TrainSet, split.TestSet);
    }

    public static IEstimator<ITransformer> BostonFeaturisation(MLContext ml) =>
        ml.Transforms.Categorical.OneHotEncoding("chas_hot", "chas")
            .Append(ml.Transforms.Concatenate("Features", "crim", "zn", "indus", "chas_hot", "nox", "rm", "age", "dis", "rad", "tax", "ptratio", "b", "lstat"))
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Transforms.CopyColumns("Label", "medv"));
}
