using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>
/// CMUdict grapheme-to-phoneme through ML.NET: the spelling → TokenizeIntoCharactersAsKeys → MapKeyToValue →
/// MapValueToKey (27 letter keys) and the pronunciation → TokenizeIntoWords → MapValueToKey (39 phoneme keys), then the
/// seq2seq estimator. The key sets come from the dictionary's inventories, so the ids equal <see cref="CmuDict.LetterIds"/>
/// and <see cref="CmuDict.PhonemeIds"/>, whatever words the mappings see.
/// </summary>
internal static class G2PEstimator
{
    public static readonly MLContext Ml = new(seed: 1);

    /// <summary>The small architecture of <see cref="G2PData.Architecture"/> as estimator options (bi-LSTM 64 → LSTM 64, Luong general).</summary>
    public static Seq2SeqOptions Options(int hidden = 64, int epochs = 4, int seed = 1) => new()
    {
        FeatureColumnName = "Letters",
        Encoder = new RecurrentEncoder { HiddenSize = hidden, Bidirectional = true, EmbeddingSize = 32 },
        Decoder = new RecurrentDecoder { HiddenSize = hidden, EmbeddingSize = 32, Attention = AttentionKind.LuongGeneral },
        MaxOutputLength = 30,
        Epochs = epochs,
        BatchSize = 64,
        Optimizer = new Adam { LearningRate = 3e-3 },
        Seed = seed,
    };

    /// <summary>Featurized rows of a split (one row per pronunciation, or per word with <see cref="CmuDictVariants.First"/>).</summary>
    public static IDataView Rows(CmuDictSplit split, int words, CmuDictVariants variants = CmuDictVariants.All) =>
        Featurizer.Value.Transform(CmuDict.Load(Ml, split, words, variants));

    /// <summary>Featurized rows of the given entries.</summary>
    public static IDataView Rows(IEnumerable<G2PEntry> entries) => Featurizer.Value.Transform(Ml.Data.LoadFromEnumerable(entries.ToList()));

    /// <summary>The fitted featurization (the key sets are the dictionary's, so what it is fitted on does not matter).</summary>
    public static readonly Lazy<ITransformer> Featurizer = new(() => CmuDict.Featurize(Ml).Fit(CmuDict.Load(Ml, CmuDictSplit.Train, 10)));

    /// <summary>Trained once per test run on 3,000 words (4 epochs) with 200 validation words, and shared.</summary>
    public static readonly Lazy<DeepTransformer> Trained = new(() =>
    {
        var options = Options();
        options.ValidationData = Rows(CmuDictSplit.Validation, 200, CmuDictVariants.First);
        return Ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(Rows(CmuDictSplit.Train, 3000));
    });
}
