using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Grapheme-to-phoneme on CMUdict (Debian's pocketsphinx-en-us): bidirectional-LSTM encoder, LSTM decoder with Luong
/// "general" attention, batch 128, Adam 3e-3, clipping at global norm 1, teacher forcing, same seed — (a) the plain
/// TorchSharp loop (<see cref="Seq2SeqLoop"/>) over prebuilt examples, (b) the ML.NET estimator from an IDataView
/// (CmuDict.Featurize → Trainers.Seq2Seq). Training rows/s of both (the estimator's whole Fit over the raw loop's rate
/// is the train ratio; a short raw run after the estimator shows drift in machine load), batched greedy and beam
/// decoding rows/s (the estimator's Transform over cached featurized rows, reading PredictedLabel, against
/// Seq2SeqLoop.Decode over prebuilt sources), and the test metrics
/// of both models (phoneme error rate, word error rate, BLEU; a word is right when it matches any of its pronunciations).
/// </summary>
public sealed class Seq2SeqBenchmark : IBenchmark
{
    public string Name => "seq2seq";
    public string Description => "CMUdict G2P, biLSTM encoder + attention LSTM decoder: estimator vs raw TorchSharp loop (train rows/s, greedy/beam decode rows/s), test PER/WER/BLEU [--train WORDS --epochs E --test WORDS --hidden H --beam W]";

    private const int Batch = 128, Seed = 1, ScoringBatch = 256, MaxOutput = 32;

    public int Run(string[] args)
    {
        int trainWords = Report.Arg(args, "--train", 200000), epochs = Report.Arg(args, "--epochs", 10), testWords = Report.Arg(args, "--test", 200000);
        int hidden = Report.Arg(args, "--hidden", 128), beamWidth = Report.Arg(args, "--beam", 5);
        var trainEntries = CmuDict.Read(CmuDictSplit.Train, take: trainWords);
        var train = trainEntries.Select(e => new Seq2SeqExample(CmuDict.LetterIds(e.Word), CmuDict.PhonemeIds(e.Phonemes))).ToList();
        var test = CmuDict.Read(CmuDictSplit.Test, take: testWords, variants: CmuDictVariants.First);
        var sources = test.Select(e => CmuDict.LetterIds(e.Word)).ToList();
        var references = test.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();
        Console.WriteLine($"# CMUdict G2P: {train.Count} training pronunciations, {test.Count} test words, {epochs} epochs, batch {Batch}, " +
                          $"biLSTM-{hidden} encoder, LSTM-{hidden} decoder (Luong general attention), Adam 3e-3, clip 1, torch threads {get_num_threads()}");

        // Warm-up: LibTorch sets up its kernels (and the allocator its heap) on first use.
        RawTrain(hidden, train.Take(Math.Min(train.Count, 1024)).ToList(), 1, out _);

        // (a) The raw loop.
        var (rawRate, rawLosses) = RawTrain(hidden, train, epochs, out var raw);
        Seq2SeqLoop.Decode(raw, sources.Take(ScoringBatch).ToList(), batchSize: ScoringBatch); // warm-up
        var sw = Stopwatch.StartNew();
        var rawGreedy = Seq2SeqLoop.Decode(raw, sources, batchSize: ScoringBatch);
        double rawGreedyRate = sources.Count / sw.Elapsed.TotalSeconds;
        sw.Restart();
        var rawBeam = Seq2SeqLoop.Decode(raw, sources, new Seq2SeqDecodeOptions { BeamWidth = beamWidth }, ScoringBatch);
        double rawBeamRate = sources.Count / sw.Elapsed.TotalSeconds;

        // (b) The estimator: the same network and settings, from an IDataView through the pipeline's featurization.
        var ml = new MLContext(seed: Seed);
        var featurize = CmuDict.Featurize(ml).Fit(ml.Data.LoadFromEnumerable(trainEntries.Take(10).ToList()));
        var trainView = featurize.Transform(ml.Data.LoadFromEnumerable(trainEntries));
        var options = new Seq2SeqOptions
        {
            FeatureColumnName = "Letters",
            Encoder = new RecurrentEncoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, Bidirectional = true, EmbeddingSize = 64 },
            Decoder = new RecurrentDecoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, EmbeddingSize = 64, Attention = AttentionKind.LuongGeneral },
            MaxOutputLength = MaxOutput,
            Epochs = epochs, BatchSize = Batch, Seed = Seed, ScoringBatchSize = ScoringBatch,
            Optimizer = new Adam { LearningRate = 3e-3 },
        };
        sw.Restart();
        using var model = ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(trainView);
        double fitRate = (double)train.Count * epochs / sw.Elapsed.TotalSeconds;
        double loopRate = model.History.Epochs.Average(e => e.SamplesPerSecond);
        var (rawAfter, _) = RawTrain(hidden, train, 1, out var rawAfterNet);
        rawAfterNet.Dispose();

        // The test rows featurized once and cached, so the decode rates compare decoding, not the text transforms.
        var testView = ml.Data.Cache(featurize.Transform(ml.Data.LoadFromEnumerable(test)));
        testView.GetColumn<uint[]>("Letters").Count();
        Predict(model, ml.Data.TakeRows(testView, ScoringBatch)); // warm-up
        sw.Restart();
        var greedy = Predict(model, testView);
        double greedyRate = test.Count / sw.Elapsed.TotalSeconds;
        using var beamModel = model.WithDecoding(new Seq2SeqDecodeOptions { BeamWidth = beamWidth });
        sw.Restart();
        var beam = Predict(beamModel, testView);
        double beamRate = test.Count / sw.Elapsed.TotalSeconds;

        Report.Line("seq2seq_train_samples_per_s_mlnet", fitRate, "F0");
        Report.Line("seq2seq_train_samples_per_s_mlnet_loop", loopRate, "F0");
        Report.Line("seq2seq_train_samples_per_s_raw", rawRate, "F0");
        Report.Line("seq2seq_train_samples_per_s_raw_after_1_epoch", rawAfter, "F0");
        Report.Line("seq2seq_train_ratio", fitRate / rawRate, "F3");
        Report.Line("seq2seq_final_train_loss_raw", rawLosses[^1], "F4");
        Report.Line("seq2seq_final_train_loss_mlnet", model.History.Epochs[^1].TrainLoss, "F4");
        Report.Line("seq2seq_greedy_decode_rows_per_s_mlnet", greedyRate, "F0");
        Report.Line("seq2seq_greedy_decode_rows_per_s_raw", rawGreedyRate, "F0");
        Report.Line("seq2seq_greedy_decode_ratio", greedyRate / rawGreedyRate, "F3");
        Report.Line($"seq2seq_beam{beamWidth}_decode_rows_per_s_mlnet", beamRate, "F0");
        Report.Line($"seq2seq_beam{beamWidth}_decode_rows_per_s_raw", rawBeamRate, "F0");
        Metrics("raw", "greedy", rawGreedy.Select(p => (p.Tokens, p.LogProbability)).ToList(), references);
        Metrics("raw", $"beam{beamWidth}", rawBeam.Select(p => (p.Tokens, p.LogProbability)).ToList(), references);
        Metrics("mlnet", "greedy", greedy, references);
        Metrics("mlnet", $"beam{beamWidth}", beam, references);
        raw.Dispose();
        return 0;
    }

    private static Seq2SeqArchitecture Architecture(int hidden) => new()
    {
        Input = new TokenSequenceLayout { VocabularySize = CmuDict.Letters.Length },
        Encoder = new RecurrentEncoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, Bidirectional = true, EmbeddingSize = 64 },
        Decoder = new RecurrentDecoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, EmbeddingSize = 64, Attention = AttentionKind.LuongGeneral },
        TargetVocabularySize = CmuDict.Phonemes.Count,
        MaxOutputLength = MaxOutput,
    };

    private static (double RowsPerSecond, List<double> Losses) RawTrain(int hidden, List<Seq2SeqExample> rows, int epochs, out Seq2SeqNetwork network)
    {
        random.manual_seed(Seed);
        network = (Seq2SeqNetwork)Architecture(hidden).Build(CmuDict.Phonemes.Count, null);
        var sw = Stopwatch.StartNew();
        return Seq2SeqLoop.Train(network, rows, new Seq2SeqLoopOptions
        {
            Epochs = epochs, BatchSize = Batch, LearningRate = 3e-3, Seed = Seed,
            OnEpoch = epochs > 1 ? (e, loss) => Console.WriteLine($"# raw epoch {e + 1}: loss {loss:F4} ({sw.Elapsed.TotalSeconds:F0} s)") : null,
        });
    }

    /// <summary>Scores through Transform and reads PredictedLabel and Score (what a pipeline consumer does).</summary>
    private static List<(int[] Tokens, double LogProbability)> Predict(DeepTransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        var label = scored.Schema["PredictedLabel"];
        var score = scored.Schema["Score"];
        var result = new List<(int[], double)>();
        using var cursor = scored.GetRowCursor(new[] { label, score });
        var getLabel = cursor.GetGetter<VBuffer<uint>>(label);
        var getScore = cursor.GetGetter<float>(score);
        VBuffer<uint> keys = default;
        float logp = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref keys);
            getScore(ref logp);
            result.Add((keys.DenseValues().Select(k => (int)k).ToArray(), logp));
        }
        return result;
    }

    private static void Metrics(string side, string decoding, List<(int[] Tokens, double LogProbability)> predictions, List<IReadOnlyList<IReadOnlyList<int>>> references)
    {
        var m = Seq2SeqMetrics.Compute(predictions.Select(p => (IReadOnlyList<int>)p.Tokens).ToList(), references);
        Report.Line($"seq2seq_test_per_{decoding}_{side}", m.TokenErrorRate, "F4");
        Report.Line($"seq2seq_test_wer_{decoding}_{side}", 1 - m.ExactMatch, "F4");
        Report.Line($"seq2seq_test_bleu_{decoding}_{side}", m.Bleu, "F4");
        Report.Line($"seq2seq_test_mean_logprob_{decoding}_{side}", predictions.Average(p => p.LogProbability), "F4");
    }
}
