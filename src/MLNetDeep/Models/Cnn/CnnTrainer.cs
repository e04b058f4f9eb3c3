using Microsoft.ML.Runtime;
using MLNetDeep.Augmentation;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Persistence;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Cnn;

/// <summary>
/// Trains a convolutional network on image-shaped feature vectors (what ExtractPixels produces, or any
/// numeric vector with a declared channels × height × width shape). Created through
/// <c>mlContext.{MulticlassClassification,BinaryClassification,Regression}.Trainers.Cnn(...)</c>.
/// </summary>
public sealed class CnnTrainer : DeepTrainer<CnnOptions>
{
    internal CnnTrainer(IHostEnvironment? env, CnnOptions options, PredictionKind kind) : base(env, options, kind) { }

    /// <summary>Creates a trainer without an MLContext (no log lines; the epoch callback still runs).</summary>
    public CnnTrainer(CnnOptions options, PredictionKind kind) : base(null, options, kind) { }

    /// <inheritdoc />
    private protected override DeepTrainer<CnnOptions> WithOptions(CnnOptions options, IHostEnvironment? env) => new CnnTrainer(env, options, Kind);

    /// <summary>
    /// With a <see cref="CnnOptions.Backbone"/> (or a warm start from a backbone model) the fit runs in phases (head, then
    /// fine-tuning) on the frozen blocks' outputs computed once per row; see <see cref="Backbones.Backbone"/>.
    /// </summary>
    private protected override Scoring.DeepTransformer FitRun(Microsoft.ML.IDataView trainData, Microsoft.ML.IDataView? validationData) =>
        Backbones.BackboneFit.Applies(Options)
            ? new Backbones.BackboneFit(Environment, Options, Kind).Run(trainData, validationData)
            : base.FitRun(trainData, validationData);

    /// <summary>Training steps that apply the run's copy of <see cref="CnnOptions.Augmentation"/> to training batches (never to validation or scoring).</summary>
    private protected override TrainingSteps CreateSteps(TaskLoss loss) =>
        Options.Augmentation is null ? base.CreateSteps(loss) : new AugmentedSteps(Head, loss, Options.ScoringBatchSize, Json.Clone(Options.Augmentation));

    private sealed class AugmentedSteps : TrainingSteps
    {
        private readonly ImageAugmentation _augmentation;

        public AugmentedSteps(TaskHead head, TaskLoss loss, int scoringBatchSize, ImageAugmentation augmentation) : base(head, loss, scoringBatchSize) =>
            _augmentation = augmentation;

        protected override TorchSharp.torch.Tensor TrainingForward(DeepNetwork network, Data.Batch batch) =>
            network.Forward(_augmentation.Apply(batch.Features), batch.Lengths);
    }

    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture()
    {
        if (Options.ImageShape is null)
            throw new ArgumentNullException(nameof(CnnOptions.ImageShape),
                "CnnOptions.ImageShape must be set to the images' channels x height x width, e.g. new ImageShape(1, 28, 28) for Fashion-MNIST " +
                "or new ImageShape(3, 224, 224) after ExtractPixels on 224x224 colour images.");
        if (Backbones.BackboneFit.Applies(Options))
            throw new InvalidOperationException("A CNN trainer with a Backbone is fitted through CnnTrainer.Fit (or IEstimator.Fit), which runs its phases.");
        if (Options.FineTune is not null)
            throw new ArgumentException("CnnOptions.FineTune needs a Backbone (e.g. Backbone = Backbone.ResNet18()): it is the phase that trains the backbone's top blocks.", nameof(CnnOptions.FineTune));
        Options.Augmentation?.Validate();
        if (Options.Head is null) throw new ArgumentNullException(nameof(CnnOptions.Head), "CnnOptions.Head must be set (new DenseHead()).");
        // A JSON copy: the architecture saved with the model never aliases the user's option objects.
        return Json.Clone(new CnnArchitecture
        {
            ImageShape = Options.ImageShape,
            Layers = Options.Layers ?? CnnOptions.DefaultLayers(),
            Flatten = Options.Flatten,
            Head = Options.Head,
        });
    }
}
