using System.Collections;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNetDeep.Sweeps;

/// <summary>
/// Declares a numeric search range on a property of a parameter class, in the spirit of AutoML.NET's
/// <c>[Range]</c>: <c>[Range(1e-4, 1e-1, logBase: true)] public double LearningRate { get; set; }</c>.
/// An integer range on an <c>int</c> property samples integers.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class RangeAttribute : Attribute
{
    /// <summary>A float range [min, max], log scale when <paramref name="logBase"/> is true.</summary>
    public RangeAttribute(double min, double max, bool logBase = false) { Dimension = new FloatRange(min, max, logBase); }

    /// <summary>An integer range [min, max] (both included), log scale when <paramref name="logBase"/> is true.</summary>
    public RangeAttribute(int min, int max, bool logBase = false) { Dimension = new IntRange(min, max, logBase); IsInteger = true; }

    internal SearchDimension Dimension { get; }
    internal bool IsInteger { get; }
}

/// <summary>
/// Declares a set of choices on a property of a parameter class, in the spirit of AutoML.NET's <c>[Choice]</c>:
/// <c>[Choice("adam", "sgd")] public string Optimizer { get; set; }</c>. Values: strings, numbers, booleans, enums.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class ChoiceAttribute : Attribute
{
    /// <summary>The choices, in order.</summary>
    public ChoiceAttribute(params object[] candidates) { Dimension = new ChoiceDimension(candidates); }

    internal ChoiceDimension Dimension { get; }
}

/// <summary>
/// The values one trial uses, by parameter name (nested parameters are dotted paths, e.g. "Head.Dropout").
/// Values are doubles, ints, or the choice's own values. Serialises to a flat JSON object.
/// </summary>
public sealed class TrialParameters : IReadOnlyDictionary<string, object>
{
    private readonly List<KeyValuePair<string, object>> _items;

    /// <summary>Creates parameters from name/value pairs (order kept).</summary>
    public TrialParameters(IEnumerable<KeyValuePair<string, object>> items) { _items = items.ToList(); }

    /// <summary>The value of <paramref name="name"/> converted to <typeparamref name="T"/>.</summary>
    public T Get<T>(string name)
    {
        if (!TryGetValue(name, out var v))
            throw new KeyNotFoundException($"The trial has no parameter '{name}'. It has: {string.Join(", ", Keys)}. Add '{name}' to the search space.");
        return (T)ConvertTo(v, typeof(T), name);
    }

    /// <inheritdoc />
    public object this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"The trial has no parameter '{key}'.");
    /// <inheritdoc />
    public IEnumerable<string> Keys => _items.Select(i => i.Key);
    /// <inheritdoc />
    public IEnumerable<object> Values => _items.Select(i => i.Value);
    /// <inheritdoc />
    public int Count => _items.Count;
    /// <inheritdoc />
    public bool ContainsKey(string key) => _items.Any(i => i.Key == key);
    /// <inheritdoc />
    public bool TryGetValue(string key, out object value)
    {
        foreach (var i in _items) if (i.Key == key) { value = i.Value; return true; }
        value = null!;
        return false;
    }
    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => _items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Flat JSON object, invariant culture; enums as their names. Identical parameters give identical text.</summary>
    public string ToJson()
    {
        var o = new JsonObject();
        foreach (var (k, v) in _items)
            o[k] = v switch
            {
                double d => JsonValue.Create(d),
                float f => JsonValue.Create((double)f),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                bool b => JsonValue.Create(b),
                _ => JsonValue.Create(SearchDimension.Format(v)),
            };
        return o.ToJsonString();
    }

    /// <summary>Reads <see cref="ToJson"/>'s output; values are normalised by <paramref name="space"/> when given.</summary>
    public static TrialParameters FromJson(string json, SearchSpace? space = null)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"Trial parameters must be a JSON object. Received: {json}");
        var items = new List<KeyValuePair<string, object>>();
        foreach (var (k, v) in node)
        {
            object value = v!.GetValueKind() switch
            {
                JsonValueKind.String => v.GetValue<string>(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number => v.ToJsonString().Contains('.') || v.ToJsonString().Contains('E') || v.ToJsonString().Contains('e')
                    ? v.GetValue<double>() : (object)v.GetValue<long>(),
                _ => throw new FormatException($"Unsupported parameter value for '{k}': {v.ToJsonString()}"),
            };
            if (space is not null && space.TryGetDimension(k, out var dim)) value = dim.Normalize(value);
            items.Add(new(k, value));
        }
        return new TrialParameters(items);
    }

    /// <summary>"name=value, ..." for logs.</summary>
    public override string ToString() => string.Join(", ", _items.Select(i => $"{i.Key}={SearchDimension.Format(i.Value is double d ? Math.Round(d, 6) : i.Value)}"));

    internal static object ConvertTo(object value, Type type, string name)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsInstanceOfType(value)) return value;
        try
        {
            if (t.IsEnum) return value is string s ? Enum.Parse(t, s, ignoreCase: true) : Enum.ToObject(t, value);
            if (t == typeof(string)) return SearchDimension.Format(value);
            return Convert.ChangeType(value, t, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException or ArgumentException)
        {
            throw new InvalidCastException($"Parameter '{name}' has value {SearchDimension.Format(value)} ({value.GetType().Name}), which does not convert to {t.Name}. Make the range or choice match the property's type.", e);
        }
    }
}

/// <summary>
/// A named set of <see cref="SearchDimension"/>s. Build one in code (<see cref="Add"/>) or from a parameter
/// class's <see cref="RangeAttribute"/>/<see cref="ChoiceAttribute"/> attributes with <see cref="SearchSpace{T}"/>.
/// </summary>
public class SearchSpace : IEnumerable<KeyValuePair<string, SearchDimension>>
{
    private readonly List<KeyValuePair<string, SearchDimension>> _dims = new();

    /// <summary>Adds a dimension, or replaces the one with the same name (an override keeps the original position).</summary>
    public SearchSpace Add(string name, SearchDimension dimension)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A search dimension needs a name. Received: an empty name.", nameof(name));
        ArgumentNullException.ThrowIfNull(dimension);
        int i = _dims.FindIndex(d => d.Key == name);
        if (i >= 0) _dims[i] = new(name, dimension); else _dims.Add(new(name, dimension));
        return this;
    }

    /// <summary>Removes a dimension (the parameter then keeps its default).</summary>
    public SearchSpace Remove(string name)
    {
        if (_dims.RemoveAll(d => d.Key == name) == 0)
            throw new KeyNotFoundException($"The search space has no dimension '{name}'. It has: {string.Join(", ", Names)}.");
        return this;
    }

    /// <summary>The dimension called <paramref name="name"/>.</summary>
    public SearchDimension this[string name] => TryGetDimension(name, out var d) ? d
        : throw new KeyNotFoundException($"The search space has no dimension '{name}'. It has: {string.Join(", ", Names)}.");

    /// <summary>Finds a dimension by name.</summary>
    public bool TryGetDimension(string name, out SearchDimension dimension)
    {
        foreach (var d in _dims) if (d.Key == name) { dimension = d.Value; return true; }
        dimension = null!;
        return false;
    }

    /// <summary>Dimension names, in order.</summary>
    public IReadOnlyList<string> Names => _dims.Select(d => d.Key).ToList();
    /// <summary>Number of dimensions.</summary>
    public int Count => _dims.Count;

    /// <summary>Draws every dimension independently.</summary>
    public TrialParameters Sample(Random random) => new(_dims.Select(d => new KeyValuePair<string, object>(d.Key, d.Value.Sample(random))));

    /// <summary>Parameters from unit coordinates (one per dimension, in order).</summary>
    public TrialParameters FromUnit(IReadOnlyList<double> u) => new(_dims.Select((d, i) => new KeyValuePair<string, object>(d.Key, d.Value.FromUnit(u[i]))));

    /// <summary>Every grid point (Cartesian product), first dimension slowest.</summary>
    public IEnumerable<TrialParameters> Grid(int pointsPerRange)
    {
        var values = _dims.Select(d => d.Value.GridValues(pointsPerRange)).ToArray();
        long total = values.Aggregate(1L, (a, v) => a * v.Count);
        for (long k = 0; k < total; k++)
        {
            var items = new KeyValuePair<string, object>[values.Length];
            long rest = k;
            for (int i = values.Length - 1; i >= 0; i--)
            {
                items[i] = new(_dims[i].Key, values[i][(int)(rest % values[i].Count)]);
                rest /= values[i].Count;
            }
            yield return new TrialParameters(items);
        }
    }

    /// <summary>A text description of every dimension; a sweep refuses to resume under a different space.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in _dims) sb.Append(k).Append(": ").Append(v).Append('\n');
        return sb.ToString();
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, SearchDimension>> GetEnumerator() => _dims.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => Describe();
}

/// <summary>
/// A search space declared on a parameter class <typeparamref name="T"/> by attributes (nested classes included:
/// a property whose class has attributed properties becomes a dotted prefix, e.g. "Head.Dropout"), with fluent
/// overrides in code, and <see cref="Bind"/> that builds a fresh <typeparamref name="T"/> for each trial.
/// </summary>
/// <typeparam name="T">A class with a public parameterless constructor and settable (or init) properties.</typeparam>
public sealed class SearchSpace<T> : SearchSpace where T : class, new()
{
    /// <summary>Reads every <see cref="RangeAttribute"/>/<see cref="ChoiceAttribute"/> of <typeparamref name="T"/> (recursively).</summary>
    public SearchSpace() { Collect(typeof(T), "", 0); }

    private void Collect(Type type, string prefix, int depth)
    {
        if (depth > 8) throw new InvalidOperationException($"Nested search-space classes go deeper than 8 levels at '{prefix}'; is there a cycle?");
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            string name = prefix + p.Name;
            if (p.GetCustomAttribute<RangeAttribute>() is { } r)
            {
                var pt = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
                var dim = r.Dimension;
                if (r.IsInteger && pt != typeof(int) && pt != typeof(long) && pt != typeof(short))
                {
                    var ir = (IntRange)dim;
                    dim = new FloatRange(ir.Min, ir.Max, ir.LogScale); // [Range(1, 10)] on a double property
                }
                else if (!r.IsInteger && (pt == typeof(int) || pt == typeof(long)))
                    throw new ArgumentException($"[Range] on {type.Name}.{p.Name} (an integer property) has float bounds. Use integer bounds, e.g. [Range(16, 256, logBase: true)].");
                Add(name, dim);
            }
            else if (p.GetCustomAttribute<ChoiceAttribute>() is { } c) Add(name, c.Dimension);
            else if (p.PropertyType.IsClass && p.PropertyType != typeof(string) && HasAttributes(p.PropertyType))
                Collect(p.PropertyType, name + ".", depth + 1);
        }
    }

    private static bool HasAttributes(Type t) => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Any(p => p.IsDefined(typeof(RangeAttribute)) || p.IsDefined(typeof(ChoiceAttribute)) ||
                  (p.PropertyType.IsClass && p.PropertyType != typeof(string) && p.PropertyType != t && HasAttributes(p.PropertyType)));

    /// <summary>Overrides (or adds) a float range on a property: <c>.Range(p =&gt; p.LearningRate, 1e-5, 1e-2, logScale: true)</c>.</summary>
    public SearchSpace<T> Range(Expression<Func<T, double>> property, double min, double max, bool logScale = false)
    { Add(PathOf(property), new FloatRange(min, max, logScale)); return this; }

    /// <summary>Overrides (or adds) an integer range on a property.</summary>
    public SearchSpace<T> Range(Expression<Func<T, int>> property, int min, int max, bool logScale = false)
    { Add(PathOf(property), new IntRange(min, max, logScale)); return this; }

    /// <summary>Overrides (or adds) choices on a property: <c>.Choice(p =&gt; p.BatchSize, 64, 128)</c>.</summary>
    public SearchSpace<T> Choice<TValue>(Expression<Func<T, TValue>> property, params TValue[] values) where TValue : notnull
    { Add(PathOf(property), new ChoiceDimension(values.Cast<object>().ToArray())); return this; }

    /// <summary>Stops sweeping a property: it keeps the value the parameter class gives it.</summary>
    public SearchSpace<T> Fix<TValue>(Expression<Func<T, TValue>> property)
    { Remove(PathOf(property)); return this; }

    /// <summary>
    /// The values <paramref name="instance"/> has for every dimension of this space (e.g. <c>ParametersOf(new CnnSearchParameters())</c>:
    /// the trainer's defaults), to enqueue as a first trial with <see cref="SweepOptions.InitialTrials"/>.
    /// </summary>
    public TrialParameters ParametersOf(T instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var items = new List<KeyValuePair<string, object>>();
        foreach (var name in Names)
        {
            object? value = instance;
            foreach (var part in name.Split('.'))
            {
                var prop = value!.GetType().GetProperty(part, BindingFlags.Public | BindingFlags.Instance)
                    ?? throw new ArgumentException($"Parameter '{name}' does not name a property of {typeof(T).Name}.");
                value = prop.GetValue(value) ?? throw new ArgumentException($"{typeof(T).Name}.{name} is null; it cannot be a trial's value.");
            }
            items.Add(new(name, value!));
        }
        return new TrialParameters(items);
    }

    /// <summary>A new <typeparamref name="T"/> with every parameter of the trial set (nested objects created as needed).</summary>
    public T Bind(TrialParameters parameters)
    {
        var root = new T();
        foreach (var (path, value) in parameters)
        {
            object target = root;
            var parts = path.Split('.');
            for (int i = 0; i < parts.Length; i++)
            {
                var prop = target.GetType().GetProperty(parts[i], BindingFlags.Public | BindingFlags.Instance)
                    ?? throw new ArgumentException($"Parameter '{path}' does not name a property of {typeof(T).Name} ('{parts[i]}' is not a property of {target.GetType().Name}). Fix the name in the search space.");
                if (i == parts.Length - 1)
                {
                    if (prop.SetMethod is null)
                        throw new ArgumentException($"{target.GetType().Name}.{prop.Name} has no setter, so parameter '{path}' cannot be applied. Give it a set or init accessor.");
                    prop.SetValue(target, TrialParameters.ConvertTo(value, prop.PropertyType, path));
                }
                else
                {
                    var next = prop.GetValue(target);
                    if (next is null)
                    {
                        next = Activator.CreateInstance(prop.PropertyType)
                            ?? throw new ArgumentException($"Cannot create {prop.PropertyType.Name} for parameter '{path}'. Give it a parameterless constructor or a default value.");
                        prop.SetValue(target, next);
                    }
                    target = next;
                }
            }
        }
        return root;
    }

    private static string PathOf<TValue>(Expression<Func<T, TValue>> e)
    {
        var parts = new List<string>();
        Expression? body = e.Body;
        if (body is UnaryExpression { NodeType: ExpressionType.Convert } u) body = u.Operand;
        while (body is MemberExpression m) { parts.Insert(0, m.Member.Name); body = m.Expression; }
        if (body is not ParameterExpression || parts.Count == 0)
            throw new ArgumentException($"Pass a property path such as p => p.Head.Dropout. Received: {e}.", nameof(e));
        return string.Join('.', parts);
    }
}
