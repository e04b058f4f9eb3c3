// Usage: OnnxRuntimeProbe save MODEL.mlnd ZIP — saves the MLNetDeep model inside an ML.NET model zip (mlContext.Model.Save,
// which stores it as ONNX scored by OnnxTransformer); OnnxRuntimeProbe load ZIP — loads such a zip with LoadChecked.
// Prints "saved" / "loaded", or the error's type and message (exit code 3).
using Microsoft.ML;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;

try
{
    var ml = new MLContext();
    if (args[0] == "save")
    {
        using var model = DeepTransformer.Load(args[1]);
        var schema = new DataViewSchema.Builder();
        schema.AddColumn(model.FeatureColumnName, new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 784));
        ml.Model.SaveAtomic(model, schema.ToSchema(), args[2]);
        Console.WriteLine("saved");
    }
    else
    {
        ml.Model.LoadChecked(args[1], out _);
        Console.WriteLine("loaded");
    }
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"{e.GetType().FullName}: {e.Message}");
    return 3;
}
