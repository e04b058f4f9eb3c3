using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// A pretrained network put under the CNN trainers' dense head (<see cref="CnnOptions.Backbone"/>): any ONNX file
/// the importer reads (<see cref="FromOnnx"/>), or the ImageNet ResNet18 that NuGet package
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> copies to the application's output folder (<see cref="ResNet18"/>).
/// The file is read when training starts; the trained model keeps the graph and the weights, so loading and scoring
/// it need neither the file nor the package.
/// </summary>
public sealed class Backbone
{
    private Backbone(string name, string path, ImagePreprocessing preprocessing, string? inputName, string? outputName, FlattenMode pooling, string? meanImagePath)
    {
        Name = name;
        Path = path;
        Preprocessing = preprocessing;
        InputName = inputName;
        OutputName = outputName;
        Pooling = pooling;
        MeanImagePath = meanImagePath;
    }

    /// <summary>Name shown in logs and saved with the model (e.g. "ResNet18").</summary>
    public string Name { get; }
    /// <summary>The ONNX file.</summary>
    public string Path { get; }
    /// <summary>What the network expects its pixels to be (applied inside the network).</summary>
    public ImagePreprocessing Preprocessing { get; }
    /// <summary>The graph value the backbone takes; null = the graph's input.</summary>
    public string? InputName { get; }
    /// <summary>The graph value the head is put on (cut the classifier off here); null = the graph's first output.</summary>
    public string? OutputName { get; }
    /// <summary>How a spatial output [N, C, H, W] becomes the head's input vector. Default global average pooling.</summary>
    public FlattenMode Pooling { get; }
    /// <summary>The ONNX preprocessing graph whose mean image is subtracted (ResNet18's ResNetPreprocess.onnx), or null.</summary>
    internal string? MeanImagePath { get; }

    /// <summary>The ResNet18 file's input and the value before its final 7×7 average pooling.</summary>
    internal const string ResNet18Input = "Input247", ResNet18Features = "ReLU393_Output_0";

    /// <summary>
    /// The ImageNet ResNet18 of NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (the network ML.NET's
    /// <c>DnnFeaturizeImage</c> uses), read from <c>DnnImageModels/</c> in the application's output folder where the
    /// package puts it. Its 10 blocks (stem, 9 residual units) end at the last residual unit's 512 × h × w output,
    /// which is average-pooled over the whole image (on 224 × 224 images exactly the file's own 7 × 7 pooling), so
    /// any input of at least 32 × 32 pixels works. Preprocessing as the package's ResNetPreprocess.onnx does it:
    /// pixels × 255, RGB → BGR, minus its ImageNet mean image (resized to the input size when it is not 224 × 224).
    /// </summary>
    /// <param name="modelsFolder">The folder holding ResNet18Onnx/ and ResNetPrepOnnx/; null = DnnImageModels/ in the application's folder.</param>
    public static Backbone ResNet18(string? modelsFolder = null)
    {
        var folder = modelsFolder ?? System.IO.Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        string model = System.IO.Path.Combine(folder, "ResNet18Onnx", "ResNet18.onnx");
        string prep = System.IO.Path.Combine(folder, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        foreach (var f in new[] { model, prep })
            if (!File.Exists(f))
                throw new FileNotFoundException(
                    $"Backbone.ResNet18: '{f}' does not exist. Reference NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 in the application " +
                    "(<PackageReference Include=\"Microsoft.ML.DnnImageFeaturizer.ResNet18\" Version=\"0.23.1\" />), which copies its ONNX files to " +
                    "DnnImageModels/ in the output folder, or pass the folder that holds ResNet18Onnx/ and ResNetPrepOnnx/.", f);
        return new Backbone("ResNet18", model, new ImagePreprocessing { PixelScale = 255f, ChannelOrder = ChannelOrder.Bgr, MeanImage = true },
            ResNet18Input, ResNet18Features, FlattenMode.GlobalAveragePool, prep);
    }

    /// <summary>
    /// Any ONNX network the importer reads (<see cref="OnnxNetwork.SupportedOperators"/>), cut at
    /// <paramref name="outputName"/> (the value before its classifier; null = the graph's first output).
    /// </summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="preprocessing">What the network expects its pixels to be, e.g. <see cref="ImagePreprocessing.TorchvisionImageNet"/>.</param>
    /// <param name="outputName">The value the head is put on; null = the graph's first output.</param>
    /// <param name="inputName">The value the backbone takes; null = the graph's input.</param>
    /// <param name="pooling">How a spatial output becomes a vector. Default global average pooling.</param>
    /// <param name="name">Name for logs; null = the file name.</param>
    public static Backbone FromOnnx(string path, ImagePreprocessing preprocessing, string? outputName = null, string? inputName = null,
        FlattenMode pooling = FlattenMode.GlobalAveragePool, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (!File.Exists(path)) throw new FileNotFoundException($"Backbone.FromOnnx: the ONNX file '{path}' does not exist.", path);
        if (!Enum.IsDefined(pooling)) throw new ArgumentOutOfRangeException(nameof(pooling), pooling, $"Backbone pooling is not a known mode. Received: pooling={pooling}");
        return new Backbone(name ?? System.IO.Path.GetFileNameWithoutExtension(path), path, preprocessing, inputName, outputName, pooling, null);
    }

    /// <summary>
    /// Reads the file and returns the architecture to train: the cut graph (weights kept aside for training), the
    /// preprocessing, the shapes every block gives for <paramref name="shape"/>, and the pretrained network itself.
    /// </summary>
    internal BackboneArchitecture CreateArchitecture(ImageShape shape, DenseHead head)
    {
        ModelProto full;
        try { full = ModelProto.Parse(File.ReadAllBytes(Path)); }
        catch (InvalidDataException e) { throw new OnnxImportException($"Backbone '{Name}': '{Path}' is not a valid ONNX model: {e.Message}", inner: e); }
        var cut = BackboneGraph.Cut(full, InputName, OutputName);
        var network = OnnxNetwork.FromModel(cut);
        try
        {
            if (network.InputNames.Count != 1)
                throw new OnnxImportException($"Backbone '{Name}' takes {network.InputNames.Count} inputs ({string.Join(", ", network.InputNames)}); a backbone takes one image tensor. Set inputName.");
            int channels = network.InputShapes[0] is { Count: 4 } dims && dims[1] is long c ? (int)c : shape.Channels == 1 ? 3 : shape.Channels;
            Preprocessing.Validate(channels);
            float[]? meanImage = MeanImagePath is null ? null : ReadMeanImage(MeanImagePath, channels, shape);
            var arch = new BackboneArchitecture
            {
                ImageShape = shape,
                BackboneName = Name,
                Graph = BackboneGraph.Skeleton(cut, BackboneGraph.StateInitializers(network)),
                InputName = network.InputNames[0],
                OutputName = network.OutputNames[0],
                BackboneChannels = channels,
                Preprocessing = Preprocessing,
                Pooling = Pooling,
                Head = head,
                Opset = network.Opset,
            };
            arch.Pretrained = new PretrainedBackbone(cut, meanImage, network);
            arch.BlockOutputShapes = arch.ProbeShapes(network);
            return arch;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The mean image of a ResNetPreprocess-style graph (Split the RGB planes → Concat them as B, G, R → Sub MeanImage),
    /// checked to be that graph, in the network's channel order and resized (bilinear) to the input size.
    /// </summary>
    private static float[] ReadMeanImage(string path, int channels, ImageShape shape)
    {
        var model = ModelProto.Parse(File.ReadAllBytes(path));
        var g = model.Graph;
        var split = g.Nodes.FirstOrDefault(n => n.OpType == "Split");
        var concat = g.Nodes.FirstOrDefault(n => n.OpType == "Concat");
        var sub = g.Nodes.FirstOrDefault(n => n.OpType == "Sub");
        if (g.Nodes.Count != 3 || split is null || concat is null || sub is null || split.Outputs.Count != 3 ||
            !concat.Inputs.SequenceEqual(new[] { split.Outputs[2], split.Outputs[1], split.Outputs[0] }) || sub.Inputs[0] != concat.Outputs[0])
            throw new InvalidDataException($"'{path}' is not the expected preprocessing graph (Split RGB → Concat BGR → Sub mean image).");
        var mean = g.Initializers.FirstOrDefault(t => t.Name == sub.Inputs[1])
                   ?? throw new InvalidDataException($"'{path}': the mean image '{sub.Inputs[1]}' is not an initializer.");
        if (mean.Dims.Count != 4 || mean.Dims[1] != channels)
            throw new InvalidDataException($"'{path}': the mean image has shape [{string.Join(", ", mean.Dims)}]; expected [1, {channels}, H, W].");
        var bytes = mean.ToLittleEndianBytes();
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        long h0 = mean.Dims[2], w0 = mean.Dims[3];
        if (h0 == shape.Height && w0 == shape.Width) return values;
        using var scope = NewDisposeScope();
        var image = tensor(values, new long[] { 1, channels, h0, w0 });
        var resized = nn.functional.interpolate(image, new long[] { shape.Height, shape.Width }, mode: InterpolationMode.Bilinear, align_corners: false);
        return resized.contiguous().data<float>().ToArray();
    }
}

/// <summary>What training a fresh backbone needs besides the saved description: the cut graph with its weights, the mean image, the network.</summary>
internal sealed class PretrainedBackbone : IDisposable
{
    public PretrainedBackbone(ModelProto model, float[]? meanImage, OnnxNetwork network)
    {
        Model = model;
        MeanImage = meanImage;
        Network = network;
    }

    /// <summary>The cut graph with its pretrained values (each built network imports its own copy of them).</summary>
    public ModelProto Model { get; }
    /// <summary>The mean image at the input size (channels in the network's order), or null.</summary>
    public float[]? MeanImage { get; }
    /// <summary>The pretrained network as imported (used to compute the frozen blocks' outputs).</summary>
    public OnnxNetwork Network { get; }

    public void Dispose() => Network.Dispose();
}
