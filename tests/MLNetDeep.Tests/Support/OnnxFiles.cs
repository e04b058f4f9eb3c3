namespace MLNetDeep.Tests.Support;

/// <summary>
/// Where the real ONNX files the reader and importer tests use are: the ImageNet ResNet18 of NuGet's
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 (copied to DnnImageModels/ in the test output folder) and ONNX's own
/// conformance data (Debian package libonnx-testdata, installed by scripts/setup.sh).
/// </summary>
public static class OnnxFiles
{
    /// <summary>ONNX's node conformance tests: one folder per test with model.onnx and test_data_set_*/.</summary>
    public const string NodeTests = "/usr/share/libonnx-testdata/data/node";

    /// <summary>ImageNet ResNet18 (CNTK 2.6 export, IR 3, opset 8): input Input247 [1,3,224,224], output Pooling395_Output_0 [1,512,1,1].</summary>
    public static string ResNet18 => Package("ResNet18Onnx/ResNet18.onnx");

    /// <summary>The package's preprocessing graph (Split / Sub / Concat).</summary>
    public static string ResNetPreprocess => Package("ResNetPrepOnnx/ResNetPreprocess.onnx");

    public const string ResNet18Input = "Input247";
    public const string ResNet18Output = "Pooling395_Output_0";

    private static string Package(string relative)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", relative);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: the test project references NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18, " +
                "which copies it there at build; rebuild the test project.", path);
        return path;
    }

    /// <summary>The node-test folders (sorted); a clear failure when libonnx-testdata is not installed.</summary>
    public static string[] NodeTestFolders()
    {
        if (!Directory.Exists(NodeTests))
            throw new DirectoryNotFoundException($"{NodeTests} is missing: install Debian's libonnx-testdata (bash scripts/setup.sh does).");
        return Directory.GetDirectories(NodeTests).OrderBy(d => d, StringComparer.Ordinal).ToArray();
    }
}
