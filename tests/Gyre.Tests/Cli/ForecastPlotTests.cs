using System.Globalization;
using System.Text;
using SkiaSharp;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Plots checked by their pixels: image size (the panel grid), and each element's colour where it should be.</summary>
public sealed class ForecastPlotTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1", "--seed", "3", "--id-col", "id"];
    private static readonly string[] Quantiles = ["--loss", "quantile", "--quantiles", "0.1,0.25,0.5,0.75,0.9"];

    /// <summary>Long format: <paramref name="series"/> daily series S0… with targets a, b, c (weekly cycles at different levels).</summary>
    private string Long(int series, int rows = 90)
    {
        var sb = new StringBuilder("id,date,a,b,c\n");
        for (int s = 0; s < series; s++)
            for (int t = 0; t < rows; t++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"S{s},{new DateTime(2020, 1, 1).AddDays(t):yyyy-MM-dd}");
                for (int k = 0; k < 3; k++) sb.Append(CultureInfo.InvariantCulture, $",{10 + s + 3 * k + 2 * Math.Sin(2 * Math.PI * t / 7 + k):F3}");
                sb.Append('\n');
            }
        return _dir.Write($"long{series}.csv", sb.ToString());
    }

    // The colours the plot promises, and the colours of the bands over the white background.
    private static readonly SKColor History = new(0x1f, 0x77, 0xb4), Forecast = new(0xd6, 0x27, 0x28);
    private static SKColor Over(SKColor under, SKColor c, double alpha) =>
        new((byte)Math.Round(under.Red * (1 - alpha) + c.Red * alpha), (byte)Math.Round(under.Green * (1 - alpha) + c.Green * alpha), (byte)Math.Round(under.Blue * (1 - alpha) + c.Blue * alpha));
    private static readonly SKColor Orange = new(0xff, 0x7f, 0x0e);
    private static readonly SKColor OuterBand = Over(SKColors.White, Orange, 0.18), InnerBand = Over(OuterBand, Orange, 0.40);

    /// <summary>Pixels within ±<paramref name="tol"/> per channel of <paramref name="c"/> in the rectangle.</summary>
    private static int Count(SKBitmap bmp, SKColor c, int x0, int y0, int x1, int y1, int tol = 3)
    {
        int n = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
            {
                var p = bmp.GetPixel(x, y);
                if (Math.Abs(p.Red - c.Red) <= tol && Math.Abs(p.Green - c.Green) <= tol && Math.Abs(p.Blue - c.Blue) <= tol) n++;
            }
        return n;
    }

    [Fact]
    public void Predict_plot_draws_one_panel_per_series_and_target_with_every_band()
    {
        string data = Long(2);
        _dir.Ok(["forecast", "train", "--data", data, .. Small, .. Quantiles, "--out", _dir["m.gyre"]]);
        var r = _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"], "--plot", _dir["f.png"]);
        Assert.Contains("(6 panel(s))", r.Out);
        using var bmp = SKBitmap.Decode(_dir["f.png"]);
        Assert.Equal((1600, 990), (bmp.Width, bmp.Height));           // 2 series × 3 targets: 2 columns, 3 rows
        int w = bmp.Width / 2, h = bmp.Height / 3;
        for (int row = 0; row < 3; row++)
            for (int col = 0; col < 2; col++)
            {
                int x0 = col * w, y0 = row * h;
                string where = $"panel row {row} column {col}";
                Assert.True(Count(bmp, History, x0, y0, x0 + w, y0 + h) > 100, $"{where}: no history line");
                Assert.True(Count(bmp, Forecast, x0, y0, x0 + w, y0 + h) > 50, $"{where}: no forecast line");
                Assert.True(Count(bmp, OuterBand, x0, y0, x0 + w, y0 + h) > 50, $"{where}: no 80 % band");
                Assert.True(Count(bmp, InnerBand, x0, y0, x0 + w, y0 + h) > 50, $"{where}: no 50 % band");
                // The legend sits right of the data area (which ends about 2/3 across the panel): the forecast colour
                // appears in the panel's right 29 % only as the legend's sample line.
                Assert.True(Count(bmp, Forecast, x0 + w * 71 / 100, y0, x0 + w, y0 + h, 12) > 5, $"{where}: no legend outside the data");
            }
    }

    [Fact]
    public void Plot_series_and_plot_targets_select_panels_and_too_many_are_named()
    {
        string data = Long(9, 80);
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"]]);
        var one = _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"], "--plot", _dir["one.png"],
            "--plot-series", "S3", "--plot-targets", "b");
        Assert.Contains("(1 panel(s))", one.Out);
        using (var bmp = SKBitmap.Decode(_dir["one.png"])) Assert.Equal((1100, 500), (bmp.Width, bmp.Height));
        var all = _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"], "--plot", _dir["all.png"]);
        Assert.Contains($"(24 of 27 panels; left out 3: S8/a, S8/b, S8/c; choose with --plot-series/--plot-targets)", all.Out);
        var bad = _dir.Run("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["bad.csv"], "--plot", _dir["x.png"], "--plot-series", "S99");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--plot-series: unknown series 'S99'", bad.Err);
        Assert.False(File.Exists(_dir["bad.csv"]), "forecast CSV written before the plot selection was refused");
    }

    [Fact]
    public void Eval_plot_marks_the_split_and_draws_test_forecasts()
    {
        string data = Long(1, 140);
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--target", "a", "--out", _dir["m.gyre"]]);
        var r = _dir.Ok("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--plot", _dir["e.png"]);
        Assert.Contains("(1 panel(s))", r.Out);
        using var bmp = SKBitmap.Decode(_dir["e.png"]);
        Assert.Equal((1100, 500), (bmp.Width, bmp.Height));
        var val = Over(SKColors.White, new SKColor(0x7f, 0x7f, 0x7f), 0.12);
        var test = Over(SKColors.White, new SKColor(0x2c, 0xa0, 0x2c), 0.12);
        var train = Over(SKColors.White, new SKColor(0x94, 0x67, 0xbd), 0.12);
        int plotRight = bmp.Width * 3 / 4;
        Assert.True(Count(bmp, train, 0, 0, plotRight, bmp.Height) > 1000, "train part not shaded");
        Assert.True(Count(bmp, val, 0, 0, plotRight, bmp.Height) > 1000, "validation part not shaded");
        Assert.True(Count(bmp, test, 0, 0, plotRight, bmp.Height) > 1000, "test part not shaded");
        Assert.True(Count(bmp, Forecast, 0, 0, plotRight, bmp.Height, 12) > 100, "no test forecasts");
        // Forecasts lie in the test part: the left 60 % of the series (train) holds no forecast colour.
        Assert.True(Count(bmp, Forecast, 0, 0, bmp.Width * 2 / 5, bmp.Height, 12) == 0, "forecast drawn over the training part");
    }
}
