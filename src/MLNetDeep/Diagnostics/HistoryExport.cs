using System.Globalization;
using System.Text;
using System.Text.Json;
using MLNetDeep.Persistence;
using MLNetDeep.Training;

namespace MLNetDeep.Diagnostics;

/// <summary>Writes a <see cref="TrainingHistory"/> as CSV (one file per table) or JSON.</summary>
public static class HistoryExport
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>One row per epoch: epoch, train_loss, val_loss, val_&lt;metric&gt;…, learning_rate, seconds.</summary>
    public static string EpochsCsv(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var metrics = history.Epochs.SelectMany(e => e.ValidationMetrics.Keys).Distinct().ToList();
        var sb = new StringBuilder("epoch,train_loss,val_loss");
        foreach (var m in metrics) sb.Append(",val_").Append(m);
        sb.Append(",learning_rate,seconds\n");
        foreach (var e in history.Epochs)
        {
            sb.Append(Ci, $"{e.Epoch},{e.TrainLoss:R},{(e.ValidationLoss is double v ? v.ToString("R", Ci) : "")}");
            foreach (var m in metrics) sb.Append(',').Append(e.ValidationMetrics.TryGetValue(m, out var x) ? x.ToString("R", Ci) : "");
            sb.Append(Ci, $",{e.LearningRate:R},{e.Duration.TotalSeconds:R}\n");
        }
        return sb.ToString();
    }

    /// <summary>One row per epoch and weight layer: epoch, layer, gradient_norm, max_gradient_norm, weight_norm, update_ratio.</summary>
    public static string LayersCsv(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var sb = new StringBuilder("epoch,layer,gradient_norm,max_gradient_norm,weight_norm,update_ratio\n");
        foreach (var d in history.Diagnostics)
            foreach (var l in d.Layers)
                sb.Append(Ci, $"{d.Epoch},{l.Layer},{l.GradientNorm:R},{l.MaxGradientNorm:R},{l.WeightNorm:R},{l.UpdateRatio:R}\n");
        return sb.ToString();
    }

    /// <summary>One row per epoch and activation layer: epoch, layer, kind, dead_fraction, saturated_fraction, mean, std.</summary>
    public static string ActivationsCsv(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var sb = new StringBuilder("epoch,layer,kind,dead_fraction,saturated_fraction,mean,std\n");
        foreach (var d in history.Diagnostics)
            foreach (var a in d.Activations)
                sb.Append(Ci, $"{d.Epoch},{a.Layer},{a.Kind},{a.DeadFraction?.ToString("R", Ci)},{a.SaturatedFraction?.ToString("R", Ci)},{a.Mean:R},{a.Std:R}\n");
        return sb.ToString();
    }

    /// <summary>The whole history (epochs, stop reason, diagnostics and warnings) as indented JSON.</summary>
    public static string Json(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        return JsonSerializer.Serialize(history, Persistence.Json.Options);
    }

    /// <summary>Writes epochs.csv, layers.csv, activations.csv and history.json into <paramref name="directory"/> (created if needed); returns the paths.</summary>
    public static IReadOnlyList<string> WriteAll(TrainingHistory history, string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var files = new (string Name, string Text)[]
        {
            ("epochs.csv", EpochsCsv(history)), ("layers.csv", LayersCsv(history)),
            ("activations.csv", ActivationsCsv(history)), ("history.json", Json(history)),
        };
        var paths = new List<string>();
        foreach (var (name, text) in files)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, text);
            paths.Add(path);
        }
        return paths;
    }
}
