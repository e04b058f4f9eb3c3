using System.Globalization;

namespace MLNetDeep.Sweeps;

/// <summary>
/// One swept hyperparameter: a numeric range (linear or log scale, integer or float) or a set of choices.
/// Every dimension maps its values to and from a unit coordinate in [0, 1] (log-transformed for log ranges,
/// the index for choices), which is what the model-based tuner works in.
/// </summary>
public abstract class SearchDimension
{
    /// <summary>Draws a value uniformly (in the dimension's scale).</summary>
    public abstract object Sample(Random random);

    /// <summary>The value at unit coordinate <paramref name="u"/> in [0, 1].</summary>
    public abstract object FromUnit(double u);

    /// <summary>The unit coordinate in [0, 1] of <paramref name="value"/>.</summary>
    public abstract double ToUnit(object value);

    /// <summary>The values a grid search visits (<paramref name="pointsPerRange"/> is used by numeric ranges).</summary>
    public abstract IReadOnlyList<object> GridValues(int pointsPerRange);

    /// <summary>Normalises a value read back from storage (JSON numbers come back as long/double/string).</summary>
    public abstract object Normalize(object value);

    /// <summary>True for choices (categorical), false for numeric ranges.</summary>
    public abstract bool IsCategorical { get; }

    /// <summary>A float range, linear or log scale.</summary>
    public static SearchDimension Float(double min, double max, bool logScale = false) => new FloatRange(min, max, logScale);

    /// <summary>An integer range (both ends included), linear or log scale.</summary>
    public static SearchDimension Int(int min, int max, bool logScale = false) => new IntRange(min, max, logScale);

    /// <summary>A set of choices (strings, numbers, booleans or enum values).</summary>
    public static SearchDimension Choice(params object[] values) => new ChoiceDimension(values);

    /// <summary>A value as invariant text (how choices are compared and stored).</summary>
    public static string Format(object v) => v switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}

/// <summary>A float range [Min, Max], sampled uniformly in linear or log space.</summary>
public sealed class FloatRange : SearchDimension
{
    /// <summary>Creates the range; throws naming the bound that is wrong.</summary>
    public FloatRange(double min, double max, bool logScale = false)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max) || !(max >= min))
            throw new ArgumentOutOfRangeException(nameof(max), max, $"A float range needs finite bounds with Max >= Min. Received: Min={min}, Max={max}. Swap or fix the bounds.");
        if (logScale && !(min > 0))
            throw new ArgumentOutOfRangeException(nameof(min), min, $"A log-scale range needs Min > 0. Received: Min={min}, Max={max}. Use a positive lower bound (e.g. 1e-6) or logScale: false.");
        Min = min; Max = max; LogScale = logScale;
    }

    /// <summary>Lower bound (included).</summary>
    public double Min { get; }
    /// <summary>Upper bound (included).</summary>
    public double Max { get; }
    /// <summary>Sample uniformly in log space.</summary>
    public bool LogScale { get; }
    /// <inheritdoc />
    public override bool IsCategorical => false;

    /// <inheritdoc />
    public override object Sample(Random random) => FromUnit(random.NextDouble());

    /// <inheritdoc />
    public override object FromUnit(double u)
    {
        u = Math.Clamp(u, 0, 1);
        double v = LogScale ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))) : Min + u * (Max - Min);
        return Math.Clamp(v, Min, Max);
    }

    /// <inheritdoc />
    public override double ToUnit(object value)
    {
        double v = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        if (Max == Min) return 0.5;
        return Math.Clamp(LogScale ? (Math.Log(v) - Math.Log(Min)) / (Math.Log(Max) - Math.Log(Min)) : (v - Min) / (Max - Min), 0, 1);
    }

    /// <inheritdoc />
    public override IReadOnlyList<object> GridValues(int pointsPerRange)
    {
        if (Max == Min || pointsPerRange <= 1) return new object[] { FromUnit(pointsPerRange <= 1 ? 0.5 : 0) };
        return Enumerable.Range(0, pointsPerRange).Select(i => FromUnit(i / (double)(pointsPerRange - 1))).ToArray();
    }

    /// <inheritdoc />
    public override object Normalize(object value) => Convert.ToDouble(value, CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"float[{Format(Min)}, {Format(Max)}]{(LogScale ? " log" : "")}";
}

/// <summary>An integer range [Min, Max] (both included), sampled uniformly in linear or log space.</summary>
public sealed class IntRange : SearchDimension
{
    /// <summary>Creates the range; throws naming the bound that is wrong.</summary>
    public IntRange(int min, int max, bool logScale = false)
    {
        if (max < min)
            throw new ArgumentOutOfRangeException(nameof(max), max, $"An integer range needs Max >= Min. Received: Min={min}, Max={max}. Swap the bounds.");
        if (logScale && min <= 0)
            throw new ArgumentOutOfRangeException(nameof(min), min, $"A log-scale integer range needs Min >= 1. Received: Min={min}, Max={max}.");
        Min = min; Max = max; LogScale = logScale;
    }

    /// <summary>Lower bound (included).</summary>
    public int Min { get; }
    /// <summary>Upper bound (included).</summary>
    public int Max { get; }
    /// <summary>Sample uniformly in log space.</summary>
    public bool LogScale { get; }
    /// <inheritdoc />
    public override bool IsCategorical => false;

    // Unit coordinates cover [Min - 0.5, Max + 0.5] so every integer gets an equal share (in its scale).
    private double Lo => LogScale ? Math.Log(Min - 0.5 <= 0 ? Min * 0.5 : Min - 0.5) : Min - 0.5;
    private double Hi => LogScale ? Math.Log(Max + 0.5) : Max + 0.5;

    /// <inheritdoc />
    public override object Sample(Random random) => FromUnit(random.NextDouble());

    /// <inheritdoc />
    public override object FromUnit(double u)
    {
        u = Math.Clamp(u, 0, 1);
        double x = Lo + u * (Hi - Lo);
        if (LogScale) x = Math.Exp(x);
        return Math.Clamp((int)Math.Round(x, MidpointRounding.AwayFromZero), Min, Max);
    }

    /// <inheritdoc />
    public override double ToUnit(object value)
    {
        double v = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        double x = LogScale ? Math.Log(v) : v;
        return Math.Clamp((x - Lo) / (Hi - Lo), 0, 1);
    }

    /// <inheritdoc />
    public override IReadOnlyList<object> GridValues(int pointsPerRange)
    {
        if (Max - Min + 1 <= Math.Max(pointsPerRange, 1)) return Enumerable.Range(Min, Max - Min + 1).Cast<object>().ToArray();
        if (pointsPerRange <= 1) return new object[] { FromUnit(0.5) };
        // Evenly spaced in the range's scale, ends included.
        return Enumerable.Range(0, pointsPerRange)
            .Select(i =>
            {
                double t = i / (double)(pointsPerRange - 1);
                double x = LogScale ? Math.Exp(Math.Log(Min) + t * (Math.Log(Max) - Math.Log(Min))) : Min + t * (Max - Min);
                return (int)Math.Round(x, MidpointRounding.AwayFromZero);
            })
            .Distinct().Cast<object>().ToArray();
    }

    /// <inheritdoc />
    public override object Normalize(object value) => Convert.ToInt32(value, CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"int[{Min}, {Max}]{(LogScale ? " log" : "")}";
}

/// <summary>A set of choices (strings, numbers, booleans or enum values); values are compared by their invariant text.</summary>
public sealed class ChoiceDimension : SearchDimension
{
    /// <summary>Creates the choices; throws when empty or when a value is not a simple value.</summary>
    public ChoiceDimension(params object[] values)
    {
        if (values is null || values.Length == 0)
            throw new ArgumentException("A choice needs at least one value. Received: no values. Pass e.g. Choice(\"adam\", \"sgd\").", nameof(values));
        foreach (var v in values)
        {
            if (v is null || !(v is string || v is bool || v is Enum || v.GetType().IsPrimitive || v is decimal))
                throw new ArgumentException($"Choice values must be strings, numbers, booleans or enum values (they are stored as text). Received: {v?.GetType().Name ?? "null"}. Choose by name (e.g. \"adam\") and build the object from the name.", nameof(values));
        }
        if (values.Select(Format).Distinct().Count() != values.Length)
            throw new ArgumentException($"Choice values must be distinct. Received: {string.Join(", ", values.Select(Format))}.", nameof(values));
        Values = values.ToArray();
    }

    /// <summary>The choices, in order.</summary>
    public IReadOnlyList<object> Values { get; }
    /// <inheritdoc />
    public override bool IsCategorical => true;

    /// <summary>Index of <paramref name="value"/> among <see cref="Values"/> (by invariant text), or -1.</summary>
    public int IndexOf(object value)
    {
        string s = Format(value);
        for (int i = 0; i < Values.Count; i++) if (Format(Values[i]) == s) return i;
        // numbers read back as long/double: compare numerically too
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            for (int i = 0; i < Values.Count; i++)
                if (Values[i] is not string && Values[i] is not Enum && Values[i] is not bool &&
                    Convert.ToDouble(Values[i], CultureInfo.InvariantCulture) == d) return i;
        return -1;
    }

    /// <inheritdoc />
    public override object Sample(Random random) => Values[random.Next(Values.Count)];

    /// <inheritdoc />
    public override object FromUnit(double u) => Values[Math.Clamp((int)(Math.Clamp(u, 0, 1) * Values.Count), 0, Values.Count - 1)];

    /// <inheritdoc />
    public override double ToUnit(object value) => (Math.Max(IndexOf(value), 0) + 0.5) / Values.Count;

    /// <inheritdoc />
    public override IReadOnlyList<object> GridValues(int pointsPerRange) => Values;

    /// <inheritdoc />
    public override object Normalize(object value)
    {
        int i = IndexOf(value);
        if (i < 0) throw new ArgumentException($"The stored value '{Format(value)}' is not one of the choices {{{string.Join(", ", Values.Select(Format))}}}. The search space changed since the sweep started: use a new sweep name.");
        return Values[i];
    }

    /// <inheritdoc />
    public override string ToString() => $"choice{{{string.Join(", ", Values.Select(Format))}}}";
}
