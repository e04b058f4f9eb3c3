using System.Globalization;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>Where the training (and validation) rows live while a model trains.</summary>
public enum DataMode
{
    /// <summary>
    /// In memory when the rows fit <see cref="DataOptions.MemoryBudgetBytes"/> (rows × bytes per row, estimated before
    /// anything is read), streamed otherwise. The log says which was chosen and why. Default.
    /// </summary>
    Auto,
    /// <summary>Read once into one tensor; every epoch batches by index (a full seeded permutation per epoch).</summary>
    InMemory,
    /// <summary>
    /// Read from the IDataView's cursor every epoch, holding only a shuffle buffer and a few batches; the shuffle is a
    /// seeded shuffle buffer (see <see cref="DataOptions.ShuffleBufferRows"/>), not a full permutation.
    /// </summary>
    Streaming,
}

/// <summary>
/// How a Byte feature value (e.g. from <c>ExtractPixels(outputAsFloatArray: false)</c>) becomes a network input:
/// <c>value × Scale + Offset</c>. Byte columns are kept as bytes in memory (4× less than floats) and converted batch by
/// batch. The scaling is saved with the model and applied again when it scores a Byte column.
/// </summary>
/// <param name="Scale">Multiplier of the raw byte value (0–255). Finite and not 0.</param>
/// <param name="Offset">Added after scaling. Finite.</param>
public sealed record ByteScaling(float Scale, float Offset = 0)
{
    /// <summary>The raw values 0–255 (as Keras' <c>image_dataset_from_directory</c> gives them). Default.</summary>
    public static ByteScaling None { get; } = new(1f, 0f);
    /// <summary>value / 255: inputs in [0, 1], as <c>ExtractPixels(scaleImage: 1f / 255)</c> gives floats.</summary>
    public static ByteScaling UnitRange { get; } = new(1f / 255f, 0f);
    /// <summary>value / 127.5 − 1: inputs in [−1, 1].</summary>
    public static ByteScaling SymmetricRange { get; } = new(2f / 255f, -1f);

    /// <summary>True when the values are left as they are.</summary>
    [JsonIgnore] public bool IsIdentity => Scale == 1f && Offset == 0f;

    internal void Validate(string owner)
    {
        if (!float.IsFinite(Scale) || Scale == 0)
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale,
                $"{owner}.Scale must be finite and not 0 (e.g. ByteScaling.UnitRange for value / 255). Received: Scale={Scale.ToString(CultureInfo.InvariantCulture)}");
        if (!float.IsFinite(Offset))
            throw new ArgumentOutOfRangeException(nameof(Offset), Offset,
                $"{owner}.Offset must be finite. Received: Offset={Offset.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// The network input for a batch of features: uint8 tensors become float32 and are scaled; float tensors (a Byte
    /// column read as floats, as scoring reads it) are scaled. Scaling is the same float32 multiply in both cases.
    /// </summary>
    internal Tensor Apply(Tensor features)
    {
        var x = features.dtype == ScalarType.Byte ? features.to(ScalarType.Float32) : features;
        if (Scale != 1f) x = ReferenceEquals(x, features) ? x.mul(Scale) : x.mul_(Scale);
        if (Offset != 0f) x = ReferenceEquals(x, features) ? x.add(Offset) : x.add_(Offset);
        return x;
    }

    /// <summary>Written in messages as the user would write it.</summary>
    public override string ToString() =>
        this == None ? "ByteScaling.None" : this == UnitRange ? "ByteScaling.UnitRange" : this == SymmetricRange ? "ByteScaling.SymmetricRange"
        : string.Create(CultureInfo.InvariantCulture, $"new ByteScaling({Scale:R}, {Offset:R})");
}

/// <summary>
/// How a run holds and prepares its rows: in memory or streamed from the IDataView, the memory budget that decides
/// between them, the shuffle buffer of streaming, how many batches are prepared ahead on a background thread, and how
/// Byte features are scaled. Training reads these and never changes them.
/// </summary>
/// <example>
/// <code>
/// var options = new CnnOptions
/// {
///     ImageShape = new ImageShape(3, 224, 224),
///     // ExtractPixels(outputAsFloatArray: false) upstream: bytes stay bytes; the network sees value / 255.
///     Data = new DataOptions { MemoryBudgetBytes = 4L &lt;&lt; 30, ByteScaling = ByteScaling.UnitRange },
/// };
/// </code>
/// </example>
public sealed class DataOptions
{
    /// <summary>In memory, streaming, or chosen from the data's size (default <see cref="DataMode.Auto"/>).</summary>
    public DataMode Mode { get; init; } = DataMode.Auto;

    /// <summary>
    /// Bytes the rows may take in memory. <see cref="DataMode.Auto"/> keeps them in memory when their estimated size
    /// (rows × bytes per row, training and validation together) is at most this; streaming uses a quarter of it for its
    /// shuffle buffer when <see cref="ShuffleBufferRows"/> is not set. Null (default) = half of the memory the process may
    /// use (the machine's memory, or the container's limit).
    /// </summary>
    public long? MemoryBudgetBytes { get; init; }

    /// <summary>
    /// Streaming only: rows held for the per-epoch seeded shuffle (a row is drawn at random from the buffer and replaced
    /// by the next row read). As many rows as the data has = a full permutation. Null (default) = as many as fit in a
    /// quarter of the memory budget, at least one batch, at most the data's rows.
    /// </summary>
    public int? ShuffleBufferRows { get; init; }

    /// <summary>
    /// Batches prepared ahead on a background thread while the current one trains (a bounded queue; errors and
    /// cancellation reach the training thread). 0 = prepare each batch on the training thread. Default 2.
    /// </summary>
    public int PrefetchBatches { get; init; } = 2;

    /// <summary>How values of a Byte feature column become network inputs (saved with the model). Default <see cref="ByteScaling.None"/>.</summary>
    public ByteScaling ByteScaling { get; init; } = ByteScaling.None;

    /// <summary>The budget in effect: <see cref="MemoryBudgetBytes"/>, or half of <paramref name="processMemory"/>.</summary>
    internal long Budget(long processMemory) => MemoryBudgetBytes ?? processMemory / 2;

    /// <summary>Checks every option; throws naming the option, the value received and the fix.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Mode))
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, $"Data.Mode is not a known mode (Auto, InMemory, Streaming). Received: Mode={Mode}");
        if (MemoryBudgetBytes is long b && b <= 0)
            throw new ArgumentOutOfRangeException(nameof(MemoryBudgetBytes), b,
                $"Data.MemoryBudgetBytes must be > 0 bytes, or null for half of the process's memory. Received: MemoryBudgetBytes={b}");
        if (ShuffleBufferRows is int s && s <= 0)
            throw new ArgumentOutOfRangeException(nameof(ShuffleBufferRows), s,
                $"Data.ShuffleBufferRows must be >= 1 row, or null to size it from the memory budget. Received: ShuffleBufferRows={s}");
        if (PrefetchBatches < 0)
            throw new ArgumentOutOfRangeException(nameof(PrefetchBatches), PrefetchBatches,
                $"Data.PrefetchBatches must be >= 0 (0 = prepare batches on the training thread). Received: PrefetchBatches={PrefetchBatches}");
        if (ByteScaling is null)
            throw new ArgumentNullException(nameof(ByteScaling), "Data.ByteScaling must be set (ByteScaling.None keeps the raw values 0–255). Received: null");
        ByteScaling.Validate("Data.ByteScaling");
    }
}
