using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Tests.Support;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>A word and its language ("english" from wamerican, "german" from wngerman).</summary>
public sealed class WordRow
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>A few words of one language joined by spaces; Label: is it German?</summary>
public sealed class SentenceRow
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
}

/// <summary>A word and one tag per letter (V vowel, C consonant).</summary>
public sealed class TaggedWordRow
{
    public string Text { get; set; } = "";
    public string Tags { get; set; } = "";
}

/// <summary>A Fashion-MNIST image with the class index as a number (a stand-in regression target).</summary>
public sealed class ImageNumberRow
{
    [VectorType(FashionMnist.Pixels)] public float[] Features { get; set; } = Array.Empty<float>();
    public float Label { get; set; }
}

/// <summary>Real data and small, quickly trained pipelines for the pipeline-export tests.</summary>
internal static class PipelineData
{
    public static List<WordRow> Words(int perLanguage, int part) =>
        WordLists.Words(WordLists.English, perLanguage, part).Select(w => new WordRow { Text = w, Label = "english" })
            .Concat(WordLists.Words(WordLists.German, perLanguage, part).Select(w => new WordRow { Text = w, Label = "german" })).ToList();

    public static List<SentenceRow> Sentences(int perLanguage, int part)
    {
        var rng = new Random(part);
        IEnumerable<SentenceRow> Make(string path, bool german)
        {
            var words = WordLists.Words(path, perLanguage * 5, part);
            for (int i = 0, w = 0; i < perLanguage; i++)
            {
                int n = 2 + rng.Next(4);
                yield return new SentenceRow { Text = string.Join(' ', Enumerable.Range(0, n).Select(_ => words[w++ % words.Count])), Label = german };
            }
        }
        return Make(WordLists.English, false).Concat(Make(WordLists.German, true)).ToList();
    }

    public static List<TaggedWordRow> Tagged(int perLanguage, int part) =>
        Words(perLanguage, part).Select(w => new TaggedWordRow { Text = w.Text, Tags = WordLists.VowelTags(w.Text) }).ToList();

    /// <summary>Text → characters as keys → their strings → a small vocabulary of key ids, the character pipeline.</summary>
    public static IEstimator<ITransformer> Characters(MLContext ml, string output = "Tokens", string input = "Text") =>
        ml.Transforms.Text.TokenizeIntoCharactersAsKeys($"{output}Chars", input, useMarkerCharacters: false)
            .Append(ml.Transforms.Conversion.MapKeyToValue($"{output}Chars"))
            .Append(ml.Transforms.Conversion.MapValueToKey(output, $"{output}Chars"));

    public static SequenceOptions TokenOptions(string features = "Tokens") => new()
    {
        Input = new TokenSequence(8),
        FeatureColumnName = features,
        Cell = MLNetDeep.Models.Sequence.RecurrentCell.Gru,
        HiddenSize = 12,
        Epochs = 2,
        BatchSize = 32,
        Optimizer = new Adam { LearningRate = 1e-2 },
    };
}
