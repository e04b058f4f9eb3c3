// Usage: OnnxRuntimeProbe MODEL.mlnd — saves the model inside an ML.NET model zip (mlContext.Model.Save, which stores it
// as ONNX scored by OnnxTransformer) and prints "saved", or the error's type and message (exit code 3).
using Microsoft.ML;
using MLNetDeep.Scoring;

try
{
    using var model = DeepTransformer.Load(args[0]);
    var ml = new MLContext();
    var schema = new DataViewSchema.Builder();
    schema.AddColumn(model.FeatureColumnName, new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 784));
    using var zip = new MemoryStream();
    ml.Model.Save(model, schema.ToSchema(), zip);
    Console.WriteLine("saved");
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"{e.GetType().FullName}: {e.Message}");
    return 3;
}
