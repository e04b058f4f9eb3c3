using Microsoft.ML;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Runtime;
using Xunit;

namespace MLNetDeep.Tests.Foundation;

[Trait("Category", "Unit")]
public class RuntimeTests
{
    [Fact]
    public void MLNet_internals_we_rely_on_are_present()
    {
        // Fails loudly (naming the member) if a future Microsoft.ML renames what MLNetBridge reaches.
        MLNetBridge.SelfCheck();
        var env = MLNetBridge.GetEnvironment(new MLContext().MulticlassClassification.Trainers);
        Assert.NotNull(env);
        var column = MLNetBridge.MakeColumn("Score", SchemaShape.Column.VectorKind.Vector, Microsoft.ML.Data.NumberDataViewType.Single, false);
        Assert.Equal("Score", column.Name);
    }

    [Fact]
    public void LibTorch_loads_here()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Equal(6f, TorchSharp.torch.tensor(new float[] { 1, 2, 3 }).sum().item<float>());
    }

    [Fact]
    public void An_old_libstdcxx_is_named_as_the_cause_with_the_fix()
    {
        var fake = Path.GetTempFileName();
        try
        {
            File.WriteAllText(fake, "GLIBCXX_3.4.29 GLIBCXX_3.4.30");
            var message = TorchRuntime.Diagnose(new InvalidOperationException("doesn't contain a reference to libtorch-cpu-linux-x64"), fake);
            if (!OperatingSystem.IsLinux()) return;
            Assert.Contains("GLIBCXX_3.4.32", message);
            Assert.Contains(fake, message);
            Assert.Contains("scripts/setup.sh", message);
            File.WriteAllText(fake, "GLIBCXX_3.4.32");
            Assert.Contains("TorchSharp-cpu", TorchRuntime.Diagnose(new InvalidOperationException("x"), fake));
        }
        finally { File.Delete(fake); }
    }
}
