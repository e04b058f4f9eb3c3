using Microsoft.ML.Runtime;
using MLNetDeep.Data;
using MLNetDeep.Persistence;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// Trains an encoder–decoder (sequence-to-sequence) network: a token sequence, a numeric sequence or one vector per row in,
/// a variable-length key vector of target tokens out. Created through <c>mlContext.MulticlassClassification.Trainers.Seq2Seq(...)</c>.
/// Training is teacher-forced (with scheduled sampling when <see cref="Seq2SeqOptions.TeacherForcing"/> decays), on the
/// shared engine: optimizers, schedules, clipping (on by default), early stopping on a validation metric
/// ("exact_match", "token_error_rate", "bleu") or the loss, checkpoints, progress. The trained model decodes (greedy or
/// beam search) in <c>Transform</c> and <c>PredictionEngine</c>.
/// </summary>
public sealed class Seq2SeqTrainer : DeepTrainer<Seq2SeqOptions>
{
    internal Seq2SeqTrainer(IHostEnvironment? env, Seq2SeqOptions options) : base(env, options, new Seq2SeqHead(options)) { }

    /// <summary>Creates a trainer without an MLContext (no log lines; the epoch callback still runs).</summary>
    public Seq2SeqTrainer(Seq2SeqOptions options) : this(null, options) { }

    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture() =>
        // A JSON copy: the architecture saved with the model never aliases the user's option objects.
        Json.Clone<NetworkArchitecture>(new Seq2SeqArchitecture
        {
            Input = Options.Input,
            Encoder = Options.Encoder,
            VectorEncoder = Options.VectorEncoder,
            Decoder = Options.Decoder,
            MaxOutputLength = Options.MaxOutputLength,
            OrthogonalRecurrentWeights = Options.OrthogonalRecurrentWeights,
            ForgetGateBias = Options.ForgetGateBias,
        });

    private protected override TrainingSteps CreateSteps(TaskLoss loss) =>
        new Seq2SeqSteps(Head, loss, Options.ScoringBatchSize, Json.Clone(Options.TeacherForcing), Json.Clone(Options.ValidationDecoding));

    /// <summary>
    /// Teacher-forced training steps (the decoder reads the start token, then the target tokens, or with scheduled sampling
    /// its own previous prediction, drawn from the run's random stream) and validation by decoding.
    /// </summary>
    private sealed class Seq2SeqSteps : TrainingSteps
    {
        private readonly TeacherForcing _teacherForcing;
        private readonly Seq2SeqDecodeOptions _validationDecoding;

        public Seq2SeqSteps(TaskHead head, TaskLoss loss, int scoringBatchSize, TeacherForcing teacherForcing, Seq2SeqDecodeOptions validationDecoding)
            : base(head, loss, scoringBatchSize) => (_teacherForcing, _validationDecoding) = (teacherForcing, validationDecoding);

        /// <summary>Logits [B, T, K+1]; the coin flips of scheduled sampling come from the default generator, which holds the run's stream here.</summary>
        protected override Tensor TrainingForward(DeepNetwork network, Batch batch, TrainingContext context)
        {
            var net = (Seq2SeqNetwork)network;
            var decoderInput = Seq2SeqBatch.DecoderInputFromTargets(net.Architecture, batch.Labels);    // [B, T]
            return net.Forward(batch.Features, batch.Lengths, decoderInput, _teacherForcing.RatioAt(context.Epoch - 1));
        }

        /// <summary>The teacher-forced validation loss, and the metrics of the decoded validation rows.</summary>
        public override (double? Loss, Dictionary<string, double> Metrics) Evaluate(DeepNetwork network, ITrainingData data)
        {
            var net = (Seq2SeqNetwork)network;
            network.eval();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            int maxTokens = _validationDecoding.MaxOutputLength ?? net.Architecture.MaxOutputLength;
            var logits = new List<Tensor>();
            var labels = new List<Tensor>();
            var weights = new List<Tensor>();
            var decoded = new List<Tensor>();
            foreach (var batch in data.InOrder(Math.Max(ScoringBatchSize, 512)))
            {
                logits.Add(net.Forward(batch.Features, batch.Lengths, Seq2SeqBatch.DecoderInputFromTargets(net.Architecture, batch.Labels)));
                labels.Add(batch.Labels);
                if (batch.Weights is not null) weights.Add(batch.Weights);
                decoded.Add(Seq2SeqHead.Decode(net, batch.Features, batch.Lengths, _validationDecoding, maxTokens));
            }
            var allLabels = cat(labels, 0);
            double loss = Loss.Validation(CatRows(logits), allLabels, weights.Count == 0 ? null : cat(weights, 0)).item<float>();
            return (loss, Head.Metrics(data.Spec, cat(decoded, 0), allLabels));
        }
    }
}
