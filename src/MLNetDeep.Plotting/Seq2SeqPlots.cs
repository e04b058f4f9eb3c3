using ScottPlot;

namespace MLNetDeep.Plotting;

/// <summary>Pictures for sequence-to-sequence models: an attention heat map, and the three input/output shapes of recurrent networks.</summary>
public static class Seq2SeqPlots
{
    /// <summary>
    /// Attention weights as a heat map: one row per output step (<paramref name="outputTokens"/>, the end token last),
    /// one column per source step (<paramref name="sourceTokens"/>). <paramref name="weights"/> is [output step][source step].
    /// </summary>
    public static string SaveAttention(string path, IReadOnlyList<string> sourceTokens, IReadOnlyList<string> outputTokens, float[][] weights, string? title = null)
    {
        if (weights.Length != outputTokens.Count || weights.Any(w => w.Length < sourceTokens.Count))
            throw new ArgumentException($"weights must be [{outputTokens.Count} output steps][{sourceTokens.Count} source steps]. Received: [{weights.Length}][{(weights.Length > 0 ? weights[0].Length : 0)}]", nameof(weights));
        int rows = outputTokens.Count, cols = sourceTokens.Count;
        var data = new double[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) data[r, c] = weights[r][c];
        var plot = new Plot();
        var map = plot.Add.Heatmap(data);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.Extent = new CoordinateRect(0, cols, 0, rows);
        plot.Add.ColorBar(map);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cols).Select(c => c + 0.5).ToArray(), sourceTokens.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => rows - r - 0.5).ToArray(), outputTokens.ToArray());
        plot.Axes.SetLimits(0, cols, 0, rows);
        plot.Title(title ?? "Attention");
        plot.XLabel("source step");
        plot.YLabel("output step");
        return Save(plot, path, 120 + 48 * cols, 110 + 34 * rows);
    }

    /// <summary>The three shapes side by side: many-to-one, many-to-many of different lengths (encoder–decoder) and one-to-many.</summary>
    public static string SaveShapes(string path)
    {
        var plot = new Plot();
        plot.HideGrid();
        plot.Layout.Frameless();
        plot.Axes.SetLimits(-0.5, 22, -1.3, 4.2);
        // many-to-one: x1..x4 → h1..h4 → y
        Panel(plot, 0, "many-to-one (classification)", inputs: 4, outputs: new[] { (3, "y") }, offset: 0);
        // many-to-many, different lengths: encoder reads x1..x3, decoder writes y1..y4 from <s>
        Encoder(plot, 7.5, 3, "many-to-many, different lengths (translation, G2P)");
        // one-to-many: one vector → decoder writes y1..y3
        OneToMany(plot, 17);
        return Save(plot, path, 1500, 330);
    }

    private static void Cell(Plot plot, double x, double y, string label, Color color)
    {
        var r = plot.Add.Rectangle(x - 0.35, x + 0.35, y - 0.3, y + 0.3);
        r.FillStyle.Color = color.WithAlpha(0.35);
        r.LineStyle.Color = color;
        var t = plot.Add.Text(label, x, y);
        t.LabelAlignment = Alignment.MiddleCenter;
        t.LabelFontSize = 15;
    }

    private static void Arrow(Plot plot, double x0, double y0, double x1, double y1)
    {
        var a = plot.Add.Arrow(new Coordinates(x0, y0), new Coordinates(x1, y1));
        a.ArrowWidth = 2;
        a.ArrowLineWidth = 0;
        a.ArrowFillColor = Colors.Gray;
        a.ArrowLineColor = Colors.Gray;
        a.ArrowheadLength = 8;
        a.ArrowheadWidth = 8;
    }

    private static void Title(Plot plot, double x, string text)
    {
        var t = plot.Add.Text(text, x, -1.0);
        t.LabelAlignment = Alignment.MiddleCenter;
        t.LabelFontSize = 16;
        t.LabelBold = true;
    }

    private static void Panel(Plot plot, double x0, string title, int inputs, (int Step, string Label)[] outputs, double offset)
    {
        for (int i = 0; i < inputs; i++)
        {
            double x = x0 + offset + i * 1.3;
            Cell(plot, x, 0, $"x{i + 1}", Colors.SteelBlue);
            Cell(plot, x, 1.5, $"h{i + 1}", Colors.DarkOrange);
            Arrow(plot, x, 0.3, x, 1.2);
            if (i > 0) Arrow(plot, x - 0.95, 1.5, x - 0.35, 1.5);
        }
        foreach (var (step, label) in outputs)
        {
            double x = x0 + offset + step * 1.3;
            Cell(plot, x, 3, label, Colors.SeaGreen);
            Arrow(plot, x, 1.8, x, 2.7);
        }
        Title(plot, x0 + (inputs - 1) * 0.65, title);
    }

    private static void Encoder(Plot plot, double x0, int inputs, string title)
    {
        for (int i = 0; i < inputs; i++)
        {
            double x = x0 + i * 1.3;
            Cell(plot, x, 0, $"x{i + 1}", Colors.SteelBlue);
            Cell(plot, x, 1.5, $"e{i + 1}", Colors.DarkOrange);
            Arrow(plot, x, 0.3, x, 1.2);
            if (i > 0) Arrow(plot, x - 0.95, 1.5, x - 0.35, 1.5);
        }
        double d0 = x0 + inputs * 1.3 + 0.4;
        Arrow(plot, d0 - 1.35, 1.5, d0 - 0.35, 1.5);
        Decoder(plot, d0, 4);
        var note = plot.Add.Text("attention: each decoder step reads all e_i", x0 + 3.6, 3.9);
        note.LabelAlignment = Alignment.MiddleCenter;
        note.LabelFontSize = 13;
        note.LabelFontColor = Colors.Gray;
        Title(plot, x0 + 3.6, title);
    }

    private static void Decoder(Plot plot, double x0, int outputs)
    {
        for (int i = 0; i < outputs; i++)
        {
            double x = x0 + i * 1.3;
            Cell(plot, x, 0, i == 0 ? "<s>" : $"y{i}", Colors.Gray);
            Cell(plot, x, 1.5, $"d{i + 1}", Colors.MediumPurple);
            Cell(plot, x, 3, i == outputs - 1 ? "</s>" : $"y{i + 1}", Colors.SeaGreen);
            Arrow(plot, x, 0.3, x, 1.2);
            Arrow(plot, x, 1.8, x, 2.7);
            if (i > 0)
            {
                Arrow(plot, x - 0.95, 1.5, x - 0.35, 1.5);
                Arrow(plot, x - 1.0, 2.7, x - 0.3, 0.3);   // the previous output is the next input
            }
        }
    }

    private static void OneToMany(Plot plot, double x0)
    {
        Cell(plot, x0, 0, "image", Colors.SteelBlue);
        Cell(plot, x0, 1.5, "v", Colors.DarkOrange);
        Arrow(plot, x0, 0.3, x0, 1.2);
        Arrow(plot, x0 + 0.35, 1.5, x0 + 0.95, 1.5);
        Decoder(plot, x0 + 1.3, 3);
        Title(plot, x0 + 1.9, "one-to-many (captioning)");
    }

    private static string Save(Plot plot, string path, int width, int height)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        plot.SavePng(path, Math.Max(width, 400), Math.Max(height, 300));
        return path;
    }
}
