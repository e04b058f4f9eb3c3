using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace MLNetDeep.Datasets;

/// <summary>A column of an R data frame: numbers (numeric, integer or logical; NA = NaN) or text (factor levels or strings; NA = null).</summary>
internal sealed record RColumn(string Name, double[]? Numbers, string?[]? Texts, string[]? Levels)
{
    /// <summary>True for a factor (its values are the level names) or a character column.</summary>
    public bool IsText => Texts is not null;

    /// <summary>Rows in the column.</summary>
    public int Length => Numbers?.Length ?? Texts!.Length;
}

/// <summary>
/// Reads data frames from R's .rda / .RData files (what R's <c>save()</c> and the data folders of R packages hold): R's
/// serialization format version 2 or 3 in XDR (big-endian binary), compressed with gzip or xz (xz through the system's
/// liblzma, which every Debian system has), or uncompressed. Only what data frames use is read: numeric, integer,
/// logical and character vectors, factors, lists, attributes and compact integer sequences.
/// </summary>
internal static class RData
{
    /// <summary>The data frames (and only those) a file holds, by the names R gave them.</summary>
    public static Dictionary<string, List<RColumn>> ReadDataFrames(string path)
    {
        var bytes = Decompress(File.ReadAllBytes(path), path);
        var reader = new Reader(bytes, path);
        var result = new Dictionary<string, List<RColumn>>(StringComparer.Ordinal);
        foreach (var (name, value) in reader.ReadFile())
            if (name is not null && value is RVector { Kind: Kind.List } list && list.HasClass("data.frame")) result[name] = ToColumns(list, name, path);
        return result;
    }

    private static List<RColumn> ToColumns(RVector frame, string frameName, string path)
    {
        var names = (frame.Attribute("names") as RVector)?.Strings
                    ?? throw new InvalidDataException($"'{path}': data frame '{frameName}' has no column names.");
        var columns = new List<RColumn>();
        var items = frame.Items!;
        for (int c = 0; c < items.Length; c++)
        {
            string name = names[c] ?? $"V{c + 1}";
            columns.Add(items[c] switch
            {
                RVector { Kind: Kind.Integer } f when f.HasClass("factor") => Factor(f, name, frameName, path),
                RVector { Kind: Kind.Integer or Kind.Logical } v => new RColumn(name, v.Integers!.Select(i => i == int.MinValue ? double.NaN : i).ToArray(), null, null),
                RVector { Kind: Kind.Real } v => new RColumn(name, v.Reals!, null, null),
                RVector { Kind: Kind.String } v => new RColumn(name, null, v.Strings!, null),
                var other => throw new InvalidDataException($"'{path}': column '{name}' of data frame '{frameName}' is a {Describe(other)}; only numbers, factors and strings are read."),
            });
        }
        return columns;
    }

    private static RColumn Factor(RVector f, string name, string frameName, string path)
    {
        var levels = (f.Attribute("levels") as RVector)?.Strings
                     ?? throw new InvalidDataException($"'{path}': factor column '{name}' of data frame '{frameName}' has no levels.");
        var texts = f.Integers!.Select(code => code == int.MinValue ? null : code >= 1 && code <= levels.Length ? levels[code - 1]
            : throw new InvalidDataException($"'{path}': factor column '{name}' has code {code} but {levels.Length} levels.")).ToArray();
        return new RColumn(name, null, texts, levels.Select(l => l ?? "").ToArray());
    }

    private static string Describe(object? o) => o switch
    {
        null => "NULL",
        RVector v => v.Kind.ToString().ToLowerInvariant() + " vector",
        _ => o.GetType().Name,
    };

    // ---- decompression ------------------------------------------------------------------------------------------

    private static byte[] Decompress(byte[] bytes, string path)
    {
        if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
        {
            using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        if (bytes.Length >= 6 && bytes[0] == 0xFD && bytes[1] == (byte)'7' && bytes[2] == (byte)'z' && bytes[3] == (byte)'X' && bytes[4] == (byte)'Z')
            return Xz.Decode(bytes, path);
        if (bytes.Length >= 3 && bytes[0] == (byte)'B' && bytes[1] == (byte)'Z' && bytes[2] == (byte)'h')
            throw new NotSupportedException($"'{path}' is bzip2-compressed; re-save it in R with save(..., compress = \"xz\") or \"gzip\".");
        return bytes;
    }

    /// <summary>xz decoding with liblzma's one-call buffer decoder (liblzma.so.5 ships with every Debian and Ubuntu system).</summary>
    private static class Xz
    {
        [DllImport("liblzma.so.5", EntryPoint = "lzma_stream_buffer_decode")]
        private static extern int StreamBufferDecode(ref ulong memlimit, uint flags, IntPtr allocator,
            byte[] input, ref nuint inPos, nuint inSize, [Out] byte[] output, ref nuint outPos, nuint outSize);

        private const int LzmaOk = 0, LzmaBufError = 10;

        public static byte[] Decode(byte[] input, string path)
        {
            for (long size = Math.Max(1 << 20, input.Length * 8L); ; size *= 4)
            {
                if (size > int.MaxValue) throw new InvalidDataException($"'{path}' decompresses to more than 2 GB.");
                var output = new byte[size];
                ulong memlimit = ulong.MaxValue;
                nuint inPos = 0, outPos = 0;
                int rc;
                try
                {
                    // blittable arrays are pinned and passed as pointers, so liblzma writes straight into `output`
                    rc = StreamBufferDecode(ref memlimit, 0, IntPtr.Zero, input, ref inPos, (nuint)input.Length, output, ref outPos, (nuint)output.Length);
                }
                catch (DllNotFoundException e)
                {
                    throw new NotSupportedException($"'{path}' is xz-compressed and reading it needs liblzma.so.5 (Debian/Ubuntu: apt-get install liblzma5), which could not be loaded.", e);
                }
                if (rc == LzmaOk) return output.AsSpan(0, (int)outPos).ToArray();
                if (rc != LzmaBufError) throw new InvalidDataException($"'{path}' is not a valid xz file (liblzma error {rc}).");
            }
        }
    }

    // ---- R objects ---------------------------------------------------------------------------------------------

    private enum Kind { Logical, Integer, Real, Complex, String, List, Raw, Other }

    /// <summary>An R vector with its attributes (only what data frames need).</summary>
    private sealed class RVector
    {
        public Kind Kind;
        public int[]? Integers;
        public double[]? Reals;
        public string?[]? Strings;
        public object?[]? Items;
        public List<(string? Tag, object? Value)>? Attributes;

        public object? Attribute(string name) => Attributes?.FirstOrDefault(a => a.Tag == name).Value;

        public bool HasClass(string cls) => Attribute("class") is RVector { Strings: { } s } && s.Contains(cls);
    }

    private sealed record RSymbol(string Name);
    private sealed record RPairList(List<(string? Tag, object? Value)> Items);
    private sealed class RSpecial { }

    private sealed class Reader
    {
        private readonly byte[] _b;
        private readonly string _path;
        private int _p;
        private readonly List<object?> _refs = new();

        public Reader(byte[] bytes, string path) => (_b, _path) = (bytes, path);

        public List<(string? Tag, object? Value)> ReadFile()
        {
            string magic = Encoding.ASCII.GetString(_b, 0, Math.Min(5, _b.Length));
            if (magic is not ("RDX2\n" or "RDX3\n"))
                throw new InvalidDataException($"'{_path}' is not an R data file in binary XDR form (it starts with '{magic.TrimEnd()}', expected RDX2 or RDX3).");
            _p = 5;
            if (_b[_p] != (byte)'X' || _b[_p + 1] != (byte)'\n')
                throw new InvalidDataException($"'{_path}': only R's XDR serialization is read (this file uses '{(char)_b[_p]}').");
            _p += 2;
            int version = Int();
            Int(); // the R version that wrote it
            Int(); // the oldest R that can read it
            if (version == 3) _p += Int(); // native encoding name
            else if (version != 2) throw new InvalidDataException($"'{_path}': R serialization version {version} is not supported (2 and 3 are).");
            return ReadItem() is RPairList list ? list.Items : throw new InvalidDataException($"'{_path}': the file does not hold a list of named objects.");
        }

        private int Int()
        {
            if (_p + 4 > _b.Length) throw new InvalidDataException($"'{_path}' is truncated.");
            int v = BinaryPrimitives.ReadInt32BigEndian(_b.AsSpan(_p));
            _p += 4;
            return v;
        }

        private double Double()
        {
            if (_p + 8 > _b.Length) throw new InvalidDataException($"'{_path}' is truncated.");
            double v = BinaryPrimitives.ReadDoubleBigEndian(_b.AsSpan(_p));
            _p += 8;
            return v;
        }

        private int Length()
        {
            int n = Int();
            if (n != -1) return n;
            long upper = Int(), lower = (uint)Int();
            long len = (upper << 32) + lower;
            if (len > int.MaxValue) throw new InvalidDataException($"'{_path}' holds a vector of {len} values; at most {int.MaxValue} are read.");
            return (int)len;
        }

        private object? ReadItem()
        {
            int flags = Int();
            int type = flags & 0xFF;
            bool hasAttr = (flags & (1 << 9)) != 0, hasTag = (flags & (1 << 10)) != 0;
            switch (type)
            {
                case 254: return null;                                               // NILVALUE
                case 242 or 241 or 253 or 252 or 251 or 250: return new RSpecial();  // empty/base/global env, unbound, missing, base namespace
                case 255:                                                            // REFSXP
                {
                    int index = flags >> 8;
                    if (index == 0) index = Int();
                    return _refs[index - 1];
                }
                case 249 or 248:                                                     // NAMESPACESXP, PACKAGESXP
                {
                    if (Int() != 0) throw new InvalidDataException($"'{_path}': unexpected namespace record.");
                    int n = Int();
                    for (int i = 0; i < n; i++) ReadItem();
                    var ns = new RSpecial();
                    _refs.Add(ns);
                    return ns;
                }
                case 1:                                                              // SYMSXP
                {
                    var sym = new RSymbol(ReadItem() as string ?? "");
                    _refs.Add(sym);
                    return sym;
                }
                case 2 or 6 or 3 or 5 or 17 or 239 or 240:                           // pairlists, calls, closures, promises
                {
                    var items = new List<(string?, object?)>();
                    while (true)
                    {
                        if (hasAttr) ReadItem();
                        string? tag = hasTag ? (ReadItem() as RSymbol)?.Name : null;
                        items.Add((tag, ReadItem()));
                        // the tail: another cell of the list, or NILVALUE
                        flags = Int();
                        type = flags & 0xFF;
                        if (type == 254) return new RPairList(items);
                        if (type is not (2 or 6 or 3 or 5 or 17 or 239 or 240))
                        {
                            _p -= 4;
                            items.Add((null, ReadItem()));
                            return new RPairList(items);
                        }
                        hasAttr = (flags & (1 << 9)) != 0;
                        hasTag = (flags & (1 << 10)) != 0;
                    }
                }
                case 4:                                                              // ENVSXP
                {
                    Int(); // locked
                    var env = new RSpecial();
                    _refs.Add(env);
                    ReadItem(); ReadItem(); ReadItem(); ReadItem(); // enclosure, frame, hash table, attributes
                    return env;
                }
                case 9:                                                              // CHARSXP
                {
                    int n = Int();
                    if (n == -1) return null;                                        // NA_character_
                    var s = Encoding.UTF8.GetString(_b, _p, n);
                    _p += n;
                    return s;
                }
                case 238:                                                            // ALTREP
                {
                    var info = ReadItem() as RPairList;
                    var state = ReadItem();
                    var attr = ReadItem() as RPairList;
                    string cls = info?.Items.FirstOrDefault().Value is RSymbol sym ? sym.Name : "?";
                    var v = cls switch
                    {
                        "compact_intseq" when state is RVector { Reals: [var n, var start, var step] } =>
                            new RVector { Kind = Kind.Integer, Integers = Enumerable.Range(0, (int)n).Select(i => (int)(start + i * step)).ToArray() },
                        "compact_realseq" when state is RVector { Reals: [var n, var start, var step] } =>
                            new RVector { Kind = Kind.Real, Reals = Enumerable.Range(0, (int)n).Select(i => start + i * step).ToArray() },
                        "wrap_integer" or "wrap_real" or "wrap_string" or "wrap_logical" when state is RPairList { Items: [var (_, inner), ..] } && inner is RVector w => w,
                        _ => throw new InvalidDataException($"'{_path}': R's compact representation '{cls}' is not supported; re-save the data in R."),
                    };
                    if (attr is not null) v.Attributes = attr.Items;
                    return v;
                }
            }
            var vector = new RVector();
            switch (type)
            {
                case 10 or 13:
                {
                    vector.Kind = type == 10 ? Kind.Logical : Kind.Integer;
                    var ints = new int[Length()];
                    for (int i = 0; i < ints.Length; i++) ints[i] = Int();
                    vector.Integers = ints;
                    break;
                }
                case 14:
                {
                    vector.Kind = Kind.Real;
                    var reals = new double[Length()];
                    for (int i = 0; i < reals.Length; i++) reals[i] = Double();
                    vector.Reals = reals;
                    break;
                }
                case 15:
                {
                    vector.Kind = Kind.Complex;
                    _p += 16 * Length();
                    break;
                }
                case 16:
                {
                    vector.Kind = Kind.String;
                    var strings = new string?[Length()];
                    for (int i = 0; i < strings.Length; i++) strings[i] = ReadItem() as string;
                    vector.Strings = strings;
                    break;
                }
                case 19 or 20:
                {
                    vector.Kind = Kind.List;
                    var items = new object?[Length()];
                    for (int i = 0; i < items.Length; i++) items[i] = ReadItem();
                    vector.Items = items;
                    break;
                }
                case 24:
                {
                    vector.Kind = Kind.Raw;
                    _p += Length();
                    break;
                }
                case 25:
                    vector.Kind = Kind.Other;                                        // S4 object: attributes only
                    break;
                default:
                    throw new InvalidDataException($"'{_path}': R object type {type} is not supported (only data frames and what they hold are read).");
            }
            if (hasAttr) vector.Attributes = (ReadItem() as RPairList)?.Items;
            return vector;
        }
    }
}
