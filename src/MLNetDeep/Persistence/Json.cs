using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetDeep.Persistence;

/// <summary>JSON settings for saved models and option snapshots.</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>A deep copy through JSON, so training never holds on to (or changes) the user's objects.</summary>
    public static T Clone<T>(T value) => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, Options), Options)!;
}
