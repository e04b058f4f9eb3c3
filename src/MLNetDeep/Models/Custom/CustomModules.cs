using System.Text.Json;
using MLNetDeep.Persistence;
using MLNetDeep.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Custom;

/// <summary>What a custom module's factory is told when it builds the network: enough to size the input and the output layer.</summary>
public sealed class CustomModuleContext
{
    internal CustomModuleContext(string name, IReadOnlyList<int> inputShape, int outputSize, PredictionKind kind)
    {
        Name = name;
        InputShape = inputShape;
        OutputSize = outputSize;
        Kind = kind;
    }

    /// <summary>The name the factory is registered under.</summary>
    public string Name { get; }

    /// <summary>The shape of one row as the module receives it, without the batch dimension (e.g. [1, 28, 28]: the module's input is [B, 1, 28, 28]).</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>
    /// Outputs per row the module must return: the number of classes for multiclass (logits, [B, classes]); 1 for binary
    /// classification (a margin, [B, 1] or [B]) and regression (the standardised prediction, [B, 1] or [B]).
    /// </summary>
    public int OutputSize { get; }

    /// <summary>The task the module is trained for.</summary>
    public PredictionKind Kind { get; }

    /// <summary>Values per row: the product of <see cref="InputShape"/>.</summary>
    public long InputSize => InputShape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The registry of user-written TorchSharp modules, by name (as ML.NET's CustomMapping contracts are). A model trained
/// with a custom module stores the name, the module's options and its weights; loading it calls the factory registered
/// under that name to rebuild the module, then restores the weights. Register your factories at application start-up,
/// before training or loading. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// CustomModules.Register("small-cnn", context => new SmallCnn(context.OutputSize));
/// var trainer = mlContext.MulticlassClassification.Trainers.CustomModule("small-cnn", new[] { 1, 28, 28 });
/// </code>
/// </example>
public static class CustomModules
{
    private static readonly Dictionary<string, Registration> Registrations = new(StringComparer.Ordinal);

    /// <summary>Registers a factory of modules without options of their own.</summary>
    /// <param name="name">The name models are saved with (letters, digits, '.', '-', '_', '/'; case-sensitive).</param>
    /// <param name="factory">Builds a fresh module (its own initialisation; the trainer seeds it) that maps [B, ...InputShape] to [B, OutputSize].</param>
    /// <exception cref="ArgumentException">The name is malformed, or already registered with another factory.</exception>
    public static void Register(string name, Func<CustomModuleContext, nn.Module<Tensor, Tensor>> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Add(new Registration(CheckName(name), null, factory, (context, _) => factory(context), null, null));
    }

    /// <summary>
    /// Registers a factory of modules configured by a typed options object (<typeparamref name="TModuleOptions"/>, serialisable
    /// with System.Text.Json). The trainer's <see cref="CustomModuleOptions.ModuleOptions"/> must be a
    /// <typeparamref name="TModuleOptions"/>; it is saved with the model and handed back to the factory on load.
    /// The factory receives a copy, never the caller's object.
    /// </summary>
    /// <param name="name">The name models are saved with.</param>
    /// <param name="factory">Builds a fresh module from the context and the options (a new default <typeparamref name="TModuleOptions"/> when none are set).</param>
    public static void Register<TModuleOptions>(string name, Func<CustomModuleContext, TModuleOptions, nn.Module<Tensor, Tensor>> factory)
        where TModuleOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(factory);
        Add(new Registration(CheckName(name), typeof(TModuleOptions), factory,
            (context, options) => factory(context, (TModuleOptions?)options ?? new TModuleOptions()),
            options => JsonSerializer.SerializeToElement((TModuleOptions)options, Json.Options),
            json => JsonSerializer.Deserialize<TModuleOptions>(json, Json.Options)
                    ?? throw new InvalidDataException($"The saved options of custom module '{name}' are empty.")));
    }

    /// <summary>Removes a registration; true when the name was registered.</summary>
    public static bool Unregister(string name)
    {
        lock (Registrations) return Registrations.Remove(name);
    }

    /// <summary>True when a factory is registered under <paramref name="name"/>.</summary>
    public static bool IsRegistered(string name)
    {
        lock (Registrations) return Registrations.ContainsKey(name);
    }

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get { lock (Registrations) return Registrations.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList(); }
    }

    private static void Add(Registration registration)
    {
        lock (Registrations)
        {
            if (Registrations.TryGetValue(registration.Name, out var existing))
            {
                // The same factory registered again (e.g. start-up code run twice) is harmless; another factory under the name is not.
                if (ReferenceEquals(existing.Factory, registration.Factory) || existing.Factory.Equals(registration.Factory)) return;
                throw new ArgumentException(
                    $"A custom module named '{registration.Name}' is already registered with another factory. Models saved with a name are rebuilt " +
                    $"by that name's factory, so names must be unique: choose another name, or call CustomModules.Unregister(\"{registration.Name}\") first.",
                    "name");
            }
            Registrations[registration.Name] = registration;
        }
    }

    private static string CheckName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A custom module name must be a non-empty text such as \"small-cnn\". Received: an empty name.", nameof(name));
        if (name.Length > 200 || name.Any(c => !(char.IsLetterOrDigit(c) || c is '.' or '-' or '_' or '/')))
            throw new ArgumentException(
                $"A custom module name may hold letters, digits, '.', '-', '_' and '/' (at most 200 characters). Received: \"{name}\".", nameof(name));
        return name;
    }

    /// <summary>The registration under <paramref name="name"/>; <paramref name="loading"/> words the error for a saved model.</summary>
    internal static Registration Get(string name, bool loading)
    {
        lock (Registrations)
        {
            if (Registrations.TryGetValue(name, out var r)) return r;
        }
        var registered = Names;
        string known = registered.Count == 0 ? "No custom module is registered in this process." : $"Registered: {string.Join(", ", registered.Select(n => $"'{n}'"))}.";
        throw new InvalidOperationException(loading
            ? $"This model was trained with the custom module '{name}', which is not registered in this process, so its network can't be rebuilt. " +
              $"Call CustomModules.Register(\"{name}\", context => new YourModule(...)) with the same module class before loading " +
              $"(CustomModules.Register<TModuleOptions>(...) if it was trained with module options). {known}"
            : $"No custom module is registered under '{name}' (CustomModuleOptions.ModuleName). " +
              $"Call CustomModules.Register(\"{name}\", context => new YourModule(...)) before training. {known}");
    }

    /// <summary>One registered factory: the typed options' type (or none) and how to (de)serialise them.</summary>
    internal sealed record Registration(
        string Name,
        Type? OptionsType,
        Delegate Factory,
        Func<CustomModuleContext, object?, nn.Module<Tensor, Tensor>> Create,
        Func<object, JsonElement>? SerializeOptions,
        Func<JsonElement, object>? DeserializeOptions);
}
