// Usage: OnnxRuntimeProbe save MODEL.mlnd ZIP — saves the MLNetDeep model inside an ML.NET model zip (mlContext.Model.Save,
// which stores it as ONNX scored by OnnxTransformer); OnnxRuntimeProbe load ZIP — loads such a zip with LoadChecked;
// OnnxRuntimeProbe score MODEL.mlnd ENGINE — loads the model, asks for the scoring engine (Auto, LibTorch, OnnxRuntime) and
// scores 20 Fashion-MNIST test images (this command uses MLNetDeep only, so it also runs without the MLNetDeep.Onnx assembly).
// Prints "saved" / "loaded" / "engine: ..." and "reason: ...", or the error's type and message (exit code 3).
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;

try
{
    switch (args[0])
    {
        case "save": Probe.Save(args[1], args[2]); break;
        case "load": Probe.Load(args[1]); break;
        default: Probe.Score(args[1], Enum.Parse<MLNetDeep.Inference.ScoringEngine>(args[2])); break;
    }
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"{e.GetType().FullName}: {e.Message}");
    return 3;
}

/// <summary>One method per command, so a command's assemblies load only when it runs.</summary>
internal static class Probe
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Save(string modelPath, string zip)
    {
        var ml = new MLContext();
        using var model = MLNetDeep.Scoring.DeepTransformer.Load(modelPath);
        var schema = new DataViewSchema.Builder();
        schema.AddColumn(model.FeatureColumnName, new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 784));
        MLNetDeep.Onnx.ModelZipFiles.SaveAtomic(ml.Model, model, schema.ToSchema(), zip);
        Console.WriteLine("saved");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Load(string zip)
    {
        MLNetDeep.Onnx.ModelZipFiles.LoadChecked(new MLContext().Model, zip, out _);
        Console.WriteLine("loaded");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Score(string modelPath, MLNetDeep.Inference.ScoringEngine engine)
    {
        var ml = new MLContext();
        using var model = MLNetDeep.Scoring.DeepTransformer.Load(modelPath);
        model.ScoringEngine = engine;
        var test = ml.Data.LoadFromEnumerable(MLNetDeep.Datasets.FashionMnist.Read(train: false, take: 20));
        int rows = model.Transform(test).GetColumn<float[]>("Score").Count();
        Console.WriteLine($"scored {rows} rows");
        Console.WriteLine($"engine: {model.ActiveScoringEngine}");
        Console.WriteLine($"reason: {model.ScoringEngineReason}");
    }
}
