using System.Diagnostics;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Grapheme-to-phoneme on CMUdict (Debian's pocketsphinx-en-us): bidirectional-LSTM encoder, LSTM decoder with Luong
/// "general" attention, batch 128, Adam 3e-3, clipping at global norm 1, teacher forcing. This is the raw half: the
/// plain TorchSharp loop (<see cref="Seq2SeqLoop"/>) — training rows/s, batched greedy and beam decoding rows/s, and the
/// test metrics (phoneme error rate, word error rate, BLEU; a word is right when it matches any of its pronunciations).
/// The ML.NET estimator half is added when the estimator exists (its rows/s over this raw rate is the train ratio).
/// </summary>
public sealed class Seq2SeqBenchmark : IBenchmark
{
    public string Name => "seq2seq";
    public string Description => "CMUdict G2P, biLSTM encoder + attention LSTM decoder: raw TorchSharp loop train and greedy/beam decode rows/s, test PER/WER/BLEU [--train WORDS --epochs E --test WORDS --hidden H --beam W]";

    public int Run(string[] args)
    {
        int trainWords = Report.Arg(args, "--train", 200000), epochs = Report.Arg(args, "--epochs", 10), testWords = Report.Arg(args, "--test", 200000);
        int hidden = Report.Arg(args, "--hidden", 128), beamWidth = Report.Arg(args, "--beam", 5);
        const int batch = 128, seed = 1, scoringBatch = 256;
        var train = CmuDict.Read(CmuDictSplit.Train, take: trainWords)
            .Select(e => new Seq2SeqExample(CmuDict.LetterIds(e.Word), CmuDict.PhonemeIds(e.Phonemes))).ToList();
        var test = CmuDict.Read(CmuDictSplit.Test, take: testWords, variants: CmuDictVariants.First);
        var arch = new Seq2SeqArchitecture
        {
            Input = new TokenSequenceLayout { VocabularySize = CmuDict.Letters.Length },
            Encoder = new RecurrentEncoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, Bidirectional = true, EmbeddingSize = 64 },
            Decoder = new RecurrentDecoder { Cell = RecurrentCell.Lstm, HiddenSize = hidden, EmbeddingSize = 64, Attention = AttentionKind.LuongGeneral },
            TargetVocabularySize = CmuDict.Phonemes.Count,
            MaxOutputLength = 32,
        };
        Console.WriteLine($"# CMUdict G2P: {train.Count} training pronunciations, {test.Count} test words, {epochs} epochs, batch {batch}, " +
                          $"biLSTM-{hidden} encoder, LSTM-{hidden} decoder (Luong general attention), Adam 3e-3, clip 1, torch threads {get_num_threads()}");
        random.manual_seed(seed);
        var net = (Seq2SeqNetwork)arch.Build(arch.TargetVocabularySize!.Value, null);
        var sw = Stopwatch.StartNew();
        var (rate, losses) = Seq2SeqLoop.Train(net, train, new Seq2SeqLoopOptions
        {
            Epochs = epochs, BatchSize = batch, LearningRate = 3e-3, Seed = seed,
            OnEpoch = (e, loss) => Console.WriteLine($"# epoch {e + 1}: loss {loss:F4} ({sw.Elapsed.TotalSeconds:F0} s)"),
        });

        var sources = test.Select(e => CmuDict.LetterIds(e.Word)).ToList();
        var references = test.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();
        Seq2SeqLoop.Decode(net, sources.Take(scoringBatch).ToList(), batchSize: scoringBatch); // warm-up
        sw.Restart();
        var greedy = Seq2SeqLoop.Decode(net, sources, batchSize: scoringBatch);
        double greedyRate = sources.Count / sw.Elapsed.TotalSeconds;
        sw.Restart();
        var beam = Seq2SeqLoop.Decode(net, sources, new Seq2SeqDecodeOptions { BeamWidth = beamWidth }, scoringBatch);
        double beamRate = sources.Count / sw.Elapsed.TotalSeconds;
        var g = Seq2SeqMetrics.Compute(greedy.Select(p => (IReadOnlyList<int>)p.Tokens).ToList(), references);
        var b = Seq2SeqMetrics.Compute(beam.Select(p => (IReadOnlyList<int>)p.Tokens).ToList(), references);

        Report.Line("seq2seq_train_samples_per_s_raw", rate, "F0");
        Report.Line("seq2seq_final_train_loss", losses[^1], "F4");
        Report.Line("seq2seq_greedy_decode_rows_per_s_raw", greedyRate, "F0");
        Report.Line($"seq2seq_beam{beamWidth}_decode_rows_per_s_raw", beamRate, "F0");
        Report.Line("seq2seq_test_per_greedy", g.TokenErrorRate, "F4");
        Report.Line("seq2seq_test_wer_greedy", 1 - g.ExactMatch, "F4");
        Report.Line("seq2seq_test_bleu_greedy", g.Bleu, "F4");
        Report.Line($"seq2seq_test_per_beam{beamWidth}", b.TokenErrorRate, "F4");
        Report.Line($"seq2seq_test_wer_beam{beamWidth}", 1 - b.ExactMatch, "F4");
        Report.Line($"seq2seq_test_bleu_beam{beamWidth}", b.Bleu, "F4");
        Report.Line("seq2seq_test_mean_logprob_greedy", greedy.Average(p => p.LogProbability), "F4");
        Report.Line($"seq2seq_test_mean_logprob_beam{beamWidth}", beam.Average(p => p.LogProbability), "F4");
        return 0;
    }
}
