using System.Globalization;
using MLNetDeep.Training;
using ScottPlot;

namespace MLNetDeep.Plotting;

/// <summary>The picture of a learning-rate range test: loss against the rate (log scale), with the suggested rate marked.</summary>
public static class LearningRateFinderPlots
{
    /// <summary>
    /// Writes a PNG of the raw and smoothed batch losses against the learning rate (log10 axis), with the suggested rate
    /// (steepest descent) and fastai's minimum/10 marked; returns <paramref name="path"/>.
    /// </summary>
    /// <param name="result">A range test's result (<c>trainer.FindLearningRate(data)</c>).</param>
    /// <param name="path">Where to write the PNG (folders are created).</param>
    /// <param name="title">Plot title; null = "Learning-rate range test".</param>
    public static string SavePlot(this LearningRateFinderResult result, string path, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var ci = CultureInfo.InvariantCulture;
        var plot = TrainingPlots.NewPlot(title ?? "Learning-rate range test", "learning rate", "training loss");
        var x = result.Rates.Select(TrainingPlots.Log10).ToArray();
        // points past a non-finite loss would break the axis limits: plot the finite part
        int n = result.SmoothedLosses.TakeWhile(double.IsFinite).Count();
        var raw = TrainingPlots.Line(plot, x[..n], result.Losses.Take(n).ToArray(), "batch loss");
        raw.LineWidth = 1;
        raw.MarkerSize = 0;
        raw.Color = raw.Color.WithAlpha(0.35);
        var smooth = TrainingPlots.Line(plot, x[..n], result.SmoothedLosses.Take(n).ToArray(), "smoothed loss");
        smooth.MarkerSize = 0;
        var suggested = plot.Add.Marker(x[result.SuggestedIndex], result.SmoothedLosses[result.SuggestedIndex], MarkerShape.FilledCircle, 12);
        suggested.Color = Colors.Red;
        suggested.LegendText = string.Format(ci, "suggested {0:G3} (steepest descent)", result.SuggestedRate);
        var line = plot.Add.VerticalLine(x[result.SuggestedIndex]);
        line.Color = Colors.Red;
        line.LinePattern = LinePattern.Dashed;
        var minimum = plot.Add.VerticalLine(TrainingPlots.Log10(result.MinimumRateOverTen));
        minimum.Color = Colors.Gray;
        minimum.LinePattern = LinePattern.Dotted;
        minimum.LegendText = string.Format(ci, "minimum/10: {0:G3}", result.MinimumRateOverTen);
        // y from the lowest loss (raw or smoothed) to a little above the first ones, so the divergence doesn't flatten the curve
        var finite = result.SmoothedLosses.Take(n).ToArray();
        double low = Math.Min(finite.Min(), result.Losses.Take(n).Min()), high = Math.Max(finite[0], finite[..Math.Max(1, n / 2)].Max());
        plot.Axes.SetLimitsY(low - 0.1 * (high - low), high + 0.25 * (high - low));
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => "1e" + Math.Round(v).ToString(ci),
            IntegerTicksOnly = true,
        };
        return TrainingPlots.Save(plot, path, Alignment.UpperLeft);
    }
}
