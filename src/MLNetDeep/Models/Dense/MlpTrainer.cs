using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetDeep.Persistence;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Dense;

/// <summary>
/// Trains a multilayer perceptron on a known-size numeric feature vector (tabular rows after Concatenate,
/// NormalizeMeanVariance, OneHotEncoding; or any fixed-length vector). Created through
/// <c>mlContext.{MulticlassClassification,BinaryClassification,Regression}.Trainers.Mlp(...)</c>.
/// </summary>
public sealed class MlpTrainer : DeepTrainer<MlpOptions>
{

    internal MlpTrainer(IHostEnvironment? env, MlpOptions options, PredictionKind kind) : base(env, options, kind) { }

    /// <summary>Creates a trainer without an MLContext (no log lines; the epoch callback still runs).</summary>
    public MlpTrainer(MlpOptions options, PredictionKind kind) : this(null, options, kind) { }

    /// <inheritdoc />
    private protected override DeepTrainer<MlpOptions> WithOptions(MlpOptions options, IHostEnvironment? env) => new MlpTrainer(env, options, Kind);

    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture()
    {
        if (Options.HiddenSizes is null)
            throw new ArgumentNullException(nameof(MlpOptions.HiddenSizes), "MlpOptions.HiddenSizes must be a list of layer widths, e.g. new() { 128, 128 } (empty for a linear model).");
        if (!Enum.IsDefined(Options.BatchNormPlacement))
            throw new ArgumentOutOfRangeException(nameof(MlpOptions.BatchNormPlacement), Options.BatchNormPlacement,
                $"MlpOptions.BatchNormPlacement is not a known placement. Received: BatchNormPlacement={Options.BatchNormPlacement}");
        // A JSON copy: the architecture saved with the model never aliases the user's option objects.
        return Json.Clone(new MlpArchitecture { Stack = Options.ToStack() });
    }


}
