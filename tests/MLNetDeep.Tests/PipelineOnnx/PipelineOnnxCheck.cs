using System.Diagnostics;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Onnx;
using Xunit;

using MLNetDeep.Tests.Support;

namespace MLNetDeep.Tests.PipelineOnnx;

/// <summary>
/// The checks every exported pipeline goes through: onnx's full checker (Debian's python3-onnx), ONNX Runtime on the raw
/// input columns against the fitted ML.NET pipeline on every row, and ML.NET's ApplyOnnxModel in a fresh MLContext.
/// </summary>
internal static class PipelineOnnxCheck
{
    public const double Tolerance = 1e-4;

    /// <summary>Each row's values of a column, flattened (scalars as one value; keys as their UInt32 ids, text as string).</summary>
    public static List<object[]> Column(IDataView view, string column)
    {
        var col = view.Schema[column];
        var item = col.Type is VectorDataViewType v ? v.ItemType : col.Type;
        var raw = item is KeyDataViewType k ? k.RawType : item.RawType;
        var read = typeof(PipelineOnnxCheck).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(raw);
        return (List<object[]>)read.Invoke(null, new object[] { view, col, col.Type is VectorDataViewType })!;
    }

    private static List<object[]> Read<T>(IDataView view, DataViewSchema.Column col, bool vector)
    {
        var result = new List<object[]>();
        using var cursor = view.GetRowCursor(new[] { col });
        if (vector)
        {
            var get = cursor.GetGetter<VBuffer<T>>(col);
            VBuffer<T> buffer = default;
            while (cursor.MoveNext()) { get(ref buffer); result.Add(buffer.DenseValues().Select(Box).ToArray()); }
        }
        else
        {
            var get = cursor.GetGetter<T>(col);
            T value = default!;
            while (cursor.MoveNext()) { get(ref value); result.Add(new[] { Box(value) }); }
        }
        return result;
    }

    private static object Box<T>(T value) => value is ReadOnlyMemory<char> m ? m.ToString() : value!;

    /// <summary>
    /// Scores <paramref name="data"/>'s raw columns with ONNX Runtime (batches of <paramref name="batch"/> rows, one row per
    /// run when the graph says so) and returns each output's per-row values.
    /// </summary>
    public static Dictionary<string, List<object[]>> RunOrt(byte[] model, PipelineOnnxModel exported, IDataView data, int batch = 64)
    {
        var inputs = exported.Inputs.ToDictionary(i => i.Name, i => Column(data, i.ColumnName));
        int rows = inputs.Values.First().Count;
        if (exported.OneRowPerRun) batch = 1;
        using var session = new InferenceSession(model);
        var result = exported.Outputs.ToDictionary(o => o.Name, _ => new List<object[]>());
        for (int start = 0; start < rows; start += batch)
        {
            int n = Math.Min(batch, rows - start);
            var feeds = exported.Inputs.Select(i => Tensor(i, inputs[i.Name].Skip(start).Take(n).ToList())).ToList();
            using var outputs = session.Run(feeds);
            foreach (var o in outputs)
            {
                var flat = Flatten(o.Value);
                int width = flat.Length / n;
                for (int r = 0; r < n; r++) result[o.Name].Add(flat.Skip(r * width).Take(width).ToArray());
            }
        }
        return result;
    }

    private static NamedOnnxValue Tensor(PipelineOnnxColumn input, List<object[]> rows)
    {
        int width = rows[0].Length;
        Assert.All(rows, r => Assert.Equal(width, r.Length));
        var dims = new[] { rows.Count, width };
        var values = rows.SelectMany(r => r).ToArray();
        return input.ElementType switch
        {
            "float" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(values.Cast<float>().ToArray(), dims)),
            "double" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<double>(values.Cast<double>().ToArray(), dims)),
            "string" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<string>(values.Cast<string>().ToArray(), dims)),
            "uint32" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<uint>(values.Cast<uint>().ToArray(), dims)),
            "bool" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<bool>(values.Cast<bool>().ToArray(), dims)),
            _ => throw new NotSupportedException($"input type {input.ElementType}"),
        };
    }

    private static object[] Flatten(object value) => value switch
    {
        Tensor<float> f => f.ToArray().Cast<object>().ToArray(),
        Tensor<string> s => s.ToArray().Cast<object>().ToArray(),
        Tensor<uint> u => u.ToArray().Cast<object>().ToArray(),
        Tensor<bool> b => b.ToArray().Cast<object>().ToArray(),
        Tensor<long> l => l.ToArray().Cast<object>().ToArray(),
        _ => throw new NotSupportedException($"output {value.GetType()}"),
    };

    /// <summary>Asserts equal labels and texts on every row and floats within <see cref="Tolerance"/>; returns the largest float difference.</summary>
    public static double AssertSame(List<object[]> expected, List<object[]> actual, string column)
    {
        Assert.Equal(expected.Count, actual.Count);
        double max = 0;
        for (int r = 0; r < expected.Count; r++)
        {
            Assert.True(expected[r].Length == actual[r].Length, $"{column} row {r}: {expected[r].Length} values in ML.NET, {actual[r].Length} in ONNX");
            for (int j = 0; j < expected[r].Length; j++)
            {
                if (expected[r][j] is float e)
                {
                    double d = Math.Abs(e - Convert.ToSingle(actual[r][j]));
                    Assert.True(d <= Tolerance, $"{column} row {r} value {j}: ML.NET {e}, ONNX {actual[r][j]}");
                    max = Math.Max(max, d);
                }
                else Assert.True(Equals(expected[r][j], actual[r][j]), $"{column} row {r} value {j}: ML.NET {expected[r][j]}, ONNX {actual[r][j]}");
            }
        }
        return max;
    }

    /// <summary>
    /// The three checks: ONNX Runtime on raw inputs against the pipeline (every output, every row), ApplyOnnxModel in a
    /// fresh MLContext, and onnx's full checker when python3-onnx is installed. Returns the largest float difference.
    /// </summary>
    public static double AssertExportScoresLikeThePipeline(ITransformer pipeline, PipelineOnnxModel exported, IDataView test, string dir, Action<string> log)
    {
        var bytes = exported.ToArray();
        var scored = pipeline.ScoredByLibTorch().Transform(test); // the network itself, not ONNX Runtime on a graph of the same exporter
        var ort = RunOrt(bytes, exported, test);
        double max = 0;
        foreach (var o in exported.Outputs)
            max = Math.Max(max, AssertSame(Column(scored, o.ColumnName), ort[o.Name], o.Name));
        log($"ONNX Runtime vs ML.NET on {Column(scored, exported.Outputs[0].ColumnName).Count} rows: same labels, max |diff| {max:G3}");

        var path = Path.Combine(dir, $"pipeline-{Guid.NewGuid():N}.onnx");
        exported.Save(path);
        var fresh = new MLContext(seed: 7);
        var outputs = exported.Outputs.Select(o => o.Name).ToArray();
        var applied = fresh.Transforms.ApplyOnnxModel(outputs, exported.Inputs.Select(i => i.Name).ToArray(), path).Fit(test).Transform(test);
        double maxApplied = 0;
        foreach (var o in exported.Outputs)
            maxApplied = Math.Max(maxApplied, AssertSame(Column(scored, o.ColumnName), Column(applied, o.Name), o.Name));
        log($"ApplyOnnxModel in a fresh MLContext: same labels, max |diff| {maxApplied:G3}");

        var checker = OnnxChecker.Check(path, exported.Opset);
        log(checker ?? "onnx checker: python3-onnx not installed, not run");
        return Math.Max(max, maxApplied);
    }
}

/// <summary>onnx's own checker (Debian's python3-onnx 1.12: full check with shape inference, opsets up to 17).</summary>
internal static class OnnxChecker
{
    private const string Python = "/usr/bin/python3";

    /// <summary>Why the checker can't run here, or null when it can.</summary>
    public static readonly Lazy<string?> Unavailable = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} is missing";
        var (code, output) = RunPython("import onnx; print(onnx.__version__)");
        return code == 0 ? null : $"python3-onnx is not installed (apt-get install python3-onnx; scripts/setup.sh does): {output.Trim()}";
    });

    /// <summary>
    /// Runs onnx.checker.check_model(full_check=True) on the file and checks it declares <paramref name="opset"/>; asserts it
    /// passes. Returns a line for the log, or null when python3-onnx is missing (the caller's test then says so).
    /// onnx 1.12 knows opsets up to 17 and IR versions up to 8: a file written for a higher opset is not checked (the line says so).
    /// </summary>
    public static string? Check(string path, int opset)
    {
        if (Unavailable.Value is not null) return null;
        if (opset > 17) return $"onnx checker: not run, opset {opset} is above what Debian's onnx 1.12 knows (17)";
        var (code, output) = RunPython(
            "import onnx, sys\n" +
            $"m = onnx.load(sys.argv[1])\n" +
            $"ops = {{o.domain: o.version for o in m.opset_import}}\n" +
            $"assert ops[''] == {opset}, ops\n" +
            "onnx.checker.check_model(m, full_check=True)\n" +
            "print('onnx', onnx.__version__, 'checker ok', ops)", path);
        Assert.True(code == 0, $"onnx's checker rejects {path}: {output}");
        return output.Trim() + " (full check)";
    }

    private static (int Code, string Output) RunPython(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
