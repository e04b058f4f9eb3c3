using Microsoft.ML.Runtime;
using MLNetDeep.Augmentation;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Persistence;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

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

    private ImageAugmentation? _augmentation; // this run's copy of Options.Augmentation

    /// <summary>Applies <see cref="CnnOptions.Augmentation"/> to training batches (the engine never calls this for validation or scoring).</summary>
    protected override TorchSharp.torch.Tensor AugmentFeatures(TorchSharp.torch.Tensor features) =>
        _augmentation is { } a ? a.Apply(features) : features;

    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture()
    {
        if (Options.ImageShape is null)
            throw new ArgumentNullException(nameof(CnnOptions.ImageShape),
                "CnnOptions.ImageShape must be set to the images' channels x height x width, e.g. new ImageShape(1, 28, 28) for Fashion-MNIST " +
                "or new ImageShape(3, 224, 224) after ExtractPixels on 224x224 colour images.");
        Options.Augmentation?.Validate();
        if (Options.Head is null) throw new ArgumentNullException(nameof(CnnOptions.Head), "CnnOptions.Head must be set (new DenseHead()).");
        // A JSON copy: the architecture saved with the model never aliases the user's option objects.
        _augmentation = Options.Augmentation is null ? null : Json.Clone(Options.Augmentation);
        return Json.Clone(new CnnArchitecture
        {
            ImageShape = Options.ImageShape,
            Layers = Options.Layers ?? CnnOptions.DefaultLayers(),
            Flatten = Options.Flatten,
            Head = Options.Head,
        });
    }
}
