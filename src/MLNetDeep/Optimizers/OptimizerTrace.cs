using MLNetDeep.Schedules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Runs an optimizer, through the same updater the trainers use, on a small differentiable function of a few
/// variables: for plots of optimizer paths, teaching and tests.
/// </summary>
public static class OptimizerTrace
{
    /// <summary>
    /// Minimises <paramref name="function"/> (a scalar of a float64 vector) from <paramref name="start"/> for
    /// <paramref name="steps"/> steps. Returns the points visited, the start included (steps + 1 points).
    /// </summary>
    /// <param name="optimizer">The optimizer options (its <see cref="Optimizer.LearningRate"/> is the initial rate).</param>
    /// <param name="function">f(x), built from torch operations so autograd can differentiate it.</param>
    /// <param name="start">The starting point.</param>
    /// <param name="steps">Number of updates.</param>
    /// <param name="schedule">Optional schedule; step k uses its rate for batch k of epoch 0.</param>
    public static List<double[]> Run(Optimizer optimizer, Func<Tensor, Tensor> function, IReadOnlyList<double> start, int steps,
        LearningRateSchedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(start);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be >= 0. Received: steps={steps}");
        using var scope = NewDisposeScope();
        var x = new Parameter(tensor(start.ToArray(), dtype: ScalarType.Float64));
        using var updater = optimizer.CreateUpdater(new[] { new ParameterGroup("x", new[] { x }) });
        var scheduler = schedule?.CreateScheduler(optimizer.LearningRate);
        var points = new List<double[]> { start.ToArray() };
        for (int k = 0; k < steps; k++)
        {
            using var stepScope = NewDisposeScope();
            if (scheduler is not null) updater.SetLearningRate(scheduler.RateAt(k, 0));
            updater.ZeroGrad();
            var value = function(x);
            if (value.numel() != 1) throw new ArgumentException($"function must return a scalar. Received: shape=[{string.Join(", ", value.shape)}]", nameof(function));
            value.backward();
            updater.Step();
            points.Add(x.detach().data<double>().ToArray());
        }
        return points;
    }
}
