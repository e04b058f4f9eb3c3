using MLNetDeep.Augmentation;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Cnn;

/// <summary>
/// Options of the image CNN trainers (multiclass, binary, regression): the image shape, the convolutional
/// body, the dense head, and every shared training option.
/// </summary>
public sealed class CnnOptions : TrainerOptions
{
    /// <summary>Channels × height × width of the feature vector. Required.</summary>
    public ImageShape? ImageShape { get; set; }

    /// <summary>
    /// Convolutional body, in order. Null = the default for small images: two ConvBlocks (32 and 64 filters,
    /// 3×3, same padding, batch norm, ReLU, 2×2 max pooling).
    /// </summary>
    public List<CnnLayer>? Layers { get; set; }

    /// <summary>How the body's output becomes a vector. Default Flatten.</summary>
    public FlattenMode Flatten { get; set; } = FlattenMode.Flatten;

    /// <summary>The dense head. Default: dropout 0.25, Dense 128 + ReLU, dropout 0.5.</summary>
    public DenseHead Head { get; set; } = new();

    /// <summary>Random augmentation of training images (flips, shifts, rotations, scaling, noise); never applied to validation or scoring. Null = none.</summary>
    public ImageAugmentation? Augmentation { get; set; }

    /// <summary>
    /// A pretrained network under the dense head instead of <see cref="Layers"/> (Keras' <c>base_model</c>):
    /// <c>Backbone.ResNet18()</c> or <c>Backbone.FromOnnx(path, preprocessing, outputName)</c>. The backbone starts
    /// frozen (<c>base_model.trainable = False</c>): <see cref="TrainerOptions.Epochs"/> epochs train the head only;
    /// <see cref="FineTune"/> adds a phase that trains its top blocks. Null = the convolutional body of <see cref="Layers"/>.
    /// </summary>
    public Backbones.Backbone? Backbone { get; set; }

    /// <summary>With <see cref="Backbone"/>: a second phase in the same Fit that unfreezes the backbone's top blocks. Null = head only.</summary>
    public Backbones.FineTuneOptions? FineTune { get; set; }

    /// <summary>
    /// With a backbone whose first blocks are frozen: compute their outputs once per training and validation row and
    /// train on those (each epoch then costs only the blocks that train and the head). A phase with augmentation
    /// (<see cref="Augmentation"/> for both phases, <c>FineTune.Augmentation</c> for the fine-tuning phase) runs its frozen
    /// blocks on every step instead, since augmented images change every epoch. Default true.
    /// </summary>
    public bool CacheFrozenBlocks { get; set; } = true;

    /// <summary>A copy of these options (nested option objects shared, the callback list copied); the original is not changed.</summary>
    public CnnOptions Clone() => (CnnOptions)CopyOptions();

    /// <summary>The default convolutional body (also the reference CNN's).</summary>
    public static List<CnnLayer> DefaultLayers() => new()
    {
        new ConvBlock(32, 3, PoolingKind.Max),
        new ConvBlock(64, 3, PoolingKind.Max),
    };
}
