using Microsoft.ML.Runtime;
using MLNetDeep.Augmentation;
using MLNetDeep.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using MLNetDeep.Transfer;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// One phase of a backbone fit as an ordinary engine run: the network is the whole backbone plus the head (so weights
/// pass between phases by name), starting at <see cref="BackboneArchitecture.FirstBlock"/> when it trains on cached
/// outputs. The first <c>Frozen</c> blocks are frozen (no optimizer group, eval mode every epoch); the rest and the
/// head train with the phase's learning-rate multipliers.
/// </summary>
internal sealed class BackbonePhaseTrainer : DeepTrainer<CnnOptions>
{
    private readonly BackboneArchitecture _arch;
    private readonly TransferOptions _freezing;
    private readonly bool _batchNormTrains;

    /// <param name="env">Where the run logs (null = nowhere).</param>
    /// <param name="options">The phase's options (epochs, seed, warm start, validation rows).</param>
    /// <param name="kind">The task.</param>
    /// <param name="arch">The phase's architecture (with its first block).</param>
    /// <param name="freezing">Frozen blocks and per-group multipliers (the run's own; the options' Transfer is what the engine sees).</param>
    /// <param name="batchNormTrains">Whether the trainable backbone blocks run in train mode (batch statistics) or keep inference mode.</param>
    public BackbonePhaseTrainer(IHostEnvironment? env, CnnOptions options, PredictionKind kind, BackboneArchitecture arch, TransferOptions freezing,
        bool batchNormTrains) : base(env, options, kind)
    {
        _arch = arch;
        _freezing = freezing;
        _batchNormTrains = batchNormTrains;
    }

    protected override NetworkArchitecture CreateArchitecture() => _arch;

    private protected override DeepTrainer<CnnOptions> WithOptions(CnnOptions options, IHostEnvironment? env) =>
        new BackbonePhaseTrainer(env, options, Kind, _arch, _freezing, _batchNormTrains);

    private protected override IReadOnlyList<ParameterGroup> CreateParameterGroups(DeepNetwork network) => TransferLearning.Groups(network, _freezing);

    private protected override TrainingSteps CreateSteps(TaskLoss loss) =>
        new PhaseSteps(Head, loss, Options.ScoringBatchSize, _freezing, _batchNormTrains,
            Options.Augmentation is null ? null : Persistence.Json.Clone(Options.Augmentation));

    private sealed class PhaseSteps : TrainingSteps
    {
        private readonly TransferOptions _freezing;
        private readonly bool _batchNormTrains;
        private readonly ImageAugmentation? _augmentation;

        public PhaseSteps(TaskHead head, TaskLoss loss, int scoringBatchSize, TransferOptions freezing, bool batchNormTrains, ImageAugmentation? augmentation)
            : base(head, loss, scoringBatchSize)
        {
            _freezing = freezing;
            _batchNormTrains = batchNormTrains;
            _augmentation = augmentation;
        }

        /// <summary>Train mode for the head; frozen blocks (and, unless batch norm trains, every backbone block) in eval mode.</summary>
        public override void TrainMode(DeepNetwork network)
        {
            network.train();
            TransferLearning.FrozenToEval(network, _freezing);
            if (!_batchNormTrains) ((BackboneNetwork)network).Backbone.eval();
        }

        protected override TorchSharp.torch.Tensor TrainingForward(DeepNetwork network, Batch batch) =>
            network.Forward(_augmentation is null ? batch.Features : _augmentation.Apply(batch.Features), batch.Lengths);
    }
}
