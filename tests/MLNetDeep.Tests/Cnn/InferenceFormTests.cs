using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Cnn;

/// <summary>The eval-mode forms of CNN layers compute the same function as the training-mode layers.</summary>
[Trait("Category", "Unit")]
public class InferenceFormTests
{
    public InferenceFormTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(true, 2, 28)]
    [InlineData(true, 3, 29)]   // floor mode drops the last 2 rows and columns
    [InlineData(false, 2, 14)]
    [InlineData(false, 3, 8)]
    public void Eval_pooling_equals_LibTorch_pooling(bool max, int size, int side)
    {
        torch.manual_seed(3);
        using var pool = new Pool2dModule("pool", max, size);
        using var x = torch.randn(5, 4, side, side);
        pool.train();
        using var exact = pool.call(x);
        pool.eval();
        using var fast = pool.call(x);
        Assert.Equal(exact.shape, fast.shape);
        Assert.True(exact.allclose(fast, rtol: 0, atol: 1e-6), $"max |diff| = {(exact - fast).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(true, 1)]    // conv with bias, symmetric padding
    [InlineData(false, 2)]   // no bias, stride 2
    public void Folding_batch_norm_into_the_convolution_keeps_the_output(bool bias, int stride)
    {
        torch.manual_seed(4);
        using var conv = nn.Conv2d(3, 6, (3, 3), stride: (stride, stride), padding: (1, 1), bias: bias);
        using var bn = nn.BatchNorm2d(6);
        using (var _ = no_grad())
        {
            bn.running_mean!.copy_(torch.randn(6));
            bn.running_var!.copy_(torch.rand(6) + 0.5);
            bn.weight!.copy_(torch.randn(6));
            bn.bias!.copy_(torch.randn(6));
        }
        bn.eval();
        using var x = torch.randn(4, 3, 11, 11);
        using var expected = bn.call(conv.call(x));
        using var folded = CnnInference.ConvThenNorm(conv, bn, x, training: false);
        Assert.True(expected.allclose(folded, rtol: 0, atol: 1e-5), $"max |diff| = {(expected - folded).abs().max().item<float>()}");
    }

    [Fact]
    public void Folding_handles_the_padded_sequential_form_of_asymmetric_same_padding()
    {
        torch.manual_seed(5);
        var inner = nn.Conv2d(2, 3, (2, 2), bias: false);
        using var conv = nn.Sequential(("pad", nn.ZeroPad2d((0, 1, 0, 1))), ("conv", inner));
        using var bn = nn.BatchNorm2d(3);
        using (var _ = no_grad()) bn.running_var!.copy_(torch.rand(3) + 0.1);
        bn.eval();
        using var x = torch.randn(2, 2, 7, 7);
        using var expected = bn.call(conv.call(x));
        using var folded = CnnInference.ConvThenNorm(conv, bn, x, training: false);
        Assert.True(expected.allclose(folded, rtol: 0, atol: 1e-5));
    }

    [Theory]
    [InlineData(null, null, null, null)]
    [InlineData("0", null, null, "MLNETDEEP_TUNE_MALLOC=0")]
    [InlineData(null, "65536", null, "the environment sets glibc's malloc thresholds")]
    [InlineData(null, null, "1048576", "the environment sets glibc's malloc thresholds")]
    public void Allocator_tuning_defers_to_the_environment(string? optOut, string? mmap, string? trim, string? expected)
    {
        var env = new Dictionary<string, string?> { ["MLNETDEEP_TUNE_MALLOC"] = optOut, ["MALLOC_MMAP_THRESHOLD_"] = mmap, ["MALLOC_TRIM_THRESHOLD_"] = trim };
        var declined = NativeAllocator.Declined(k => env.GetValueOrDefault(k));
        Assert.Equal(OperatingSystem.IsLinux() ? expected : "not Linux", declined);
    }

    [Fact]
    public void Allocator_tuning_is_in_effect_after_loading_on_glibc_Linux()
    {
        if (NativeAllocator.Declined(Environment.GetEnvironmentVariable) is not null) return; // declined here: nothing to check
        Assert.True(NativeAllocator.IsTuned, "mallopt was not applied although glibc Linux and no override in the environment");
    }
}

/// <summary>Block copies between spans and tensor memory.</summary>
[Trait("Category", "Unit")]
public class NativeBuffersTests
{
    public NativeBuffersTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void FromSpan_round_trips_and_refuses_a_wrong_size()
    {
        var values = Enumerable.Range(0, 24).Select(i => i * 0.5f).ToArray();
        using var t = MLNetDeep.Data.NativeBuffers.FromSpan(values, new long[] { 2, 3, 4 });
        Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
        Assert.Equal(values[13], t[1, 0, 1].item<float>());
        Assert.Equal(values, MLNetDeep.Data.NativeBuffers.Floats(t).ToArray());
        var e = Assert.Throws<ArgumentException>(() => MLNetDeep.Data.NativeBuffers.FromSpan(values, new long[] { 5, 5 }));
        Assert.Contains("24 values", e.Message);
        using var notContiguous = t.transpose(0, 2);
        Assert.Throws<InvalidOperationException>(() => MLNetDeep.Data.NativeBuffers.Floats(notContiguous).Length);
    }
}

/// <summary>The vectorised non-finite check finds every NaN and infinity, wherever it sits, and passes huge finite values.</summary>
[Trait("Category", "Unit")]
public class FiniteCheckTests
{
    [Theory]
    [InlineData(0, float.NaN)]
    [InlineData(5, float.PositiveInfinity)]
    [InlineData(777, float.NegativeInfinity)]   // past the last full vector of 784 values when vectors hold 16
    [InlineData(783, float.NaN)]
    public void A_non_finite_value_is_named_with_its_slot(int slot, float bad)
    {
        var row = Enumerable.Range(0, 784).Select(i => (float)Math.Sin(i) * 1e30f).ToArray();
        row[slot] = bad;
        var e = Assert.Throws<InvalidDataException>(() => MLNetDeep.Data.FeatureColumnReader.CheckFinite("Features", 12, row));
        Assert.Contains($"row 12, slot {slot}", e.Message);
    }

    [Fact]
    public void Finite_extremes_pass()
    {
        var row = new[] { float.MaxValue, float.MinValue, float.Epsilon, -0f, 0f, 1e-45f, 3e38f };
        MLNetDeep.Data.FeatureColumnReader.CheckFinite("Features", 0, Enumerable.Repeat(row, 40).SelectMany(r => r).ToArray());
        MLNetDeep.Data.FeatureColumnReader.CheckFinite("Features", 0, Array.Empty<float>());
    }
}

/// <summary>Fixed-size rows are read straight into one tensor when the source announces its row count; a wrong count still loads every row.</summary>
[Trait("Category", "Unit")]
public class DirectLoadingTests
{
    /// <summary>A data view that announces a row count of its own choosing.</summary>
    private sealed class AnnouncedCount(Microsoft.ML.IDataView inner, long? announced) : Microsoft.ML.IDataView
    {
        public bool CanShuffle => inner.CanShuffle;
        public Microsoft.ML.DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => announced;
        public Microsoft.ML.DataViewRowCursor GetRowCursor(IEnumerable<Microsoft.ML.DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded, rand);
        public Microsoft.ML.DataViewRowCursor[] GetRowCursorSet(IEnumerable<Microsoft.ML.DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => inner.GetRowCursorSet(columnsNeeded, n, rand);
    }

    [Theory]
    [InlineData(null)]   // unknown: gathered in a managed buffer
    [InlineData(96L)]    // exact: straight into the tensor
    [InlineData(80L)]    // too few announced: the rows after 80 switch to the managed buffer
    [InlineData(200L)]   // too many announced: the tensor is cut to the rows read
    public void Every_row_is_trained_on_whatever_count_the_source_announces(long? announced)
    {
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var train = new AnnouncedCount(MLNetDeep.Tests.Support.TestData.TrainView(ml, 96), announced);
        var model = MLNetDeep.Tests.Support.Tiny.Multiclass(ml, MLNetDeep.Tests.Support.Tiny.Options(seed: 3)).Fit(train);
        var deep = MLNetDeep.Tests.Support.ChainExtensions.Deep(model);
        Assert.Equal(96, deep.History.TrainingRows);
        // Same seed, same rows: the same weights however the rows were gathered.
        var reference = MLNetDeep.Tests.Support.Tiny.Multiclass(ml, MLNetDeep.Tests.Support.Tiny.Options(seed: 3))
            .Fit(MLNetDeep.Tests.Support.TestData.TrainView(ml, 96));
        var test = MLNetDeep.Tests.Support.TestData.TestView(ml, 32);
        var a = model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        var b = reference.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        Assert.Equal(b, a);
    }
}
