using Gyre.Data;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Data;

public sealed class SplitWindowTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    // Series i-th value = 100·series + t, a second target = −that, one past and one future feature.
    private SeriesSet Synthetic(params int[] lengths)
    {
        var sb = new System.Text.StringBuilder("id,date,y,z,p,f\n");
        for (int s = 0; s < lengths.Length; s++)
            for (int t = 0; t < lengths[s]; t++)
                sb.Append($"s{s},{new DateTime(2020, 1, 1).AddHours(t):yyyy-MM-dd HH:mm:ss},{100 * s + t},{-(100 * s + t)},{t % 5},{t % 7}\n");
        return CsvLoader.Load(_tmp.Write("syn.csv", sb.ToString()), new CsvOptions { IdColumn = "id", Targets = ["y", "z"], Features = ["p"], FutureFeatures = ["f"] });
    }

    [Theory]
    [InlineData("0.7,0.1,0.2", 100, 70, 80, 100)]
    [InlineData("0.6,0.2,0.2", 101, 60, 80, 101)]
    [InlineData("0.8,0.2", 50, 40, 40, 50)]
    [InlineData("60,20,10", 100, 60, 80, 90)]
    [InlineData("0.5,0.1,0.1", 100, 50, 60, 70)]
    public void Split_boundaries(string spec, int length, int trainEnd, int valEnd, int testEnd) =>
        Assert.Equal(new SeriesSplit(trainEnd, valEnd, testEnd), SplitSpec.Parse(spec).For(length));

    [Theory]
    [InlineData("0.7,0.5,0.2", "sum to at most 1")]
    [InlineData("0.7", "2 or 3")]
    [InlineData("a,b,c", "not a non-negative number")]
    [InlineData("0,0.5,0.5", "training part")]
    public void Bad_split_specs(string spec, string message) =>
        Assert.Contains(message, Assert.Throws<GyreDataException>(() => SplitSpec.Parse(spec)).Message);

    [Fact]
    public void Row_count_split_longer_than_series_fails() =>
        Assert.Contains("needs 120", Assert.Throws<GyreDataException>(() => SplitSpec.Parse("60,30,30").For(100, "x.csv", "s0")).Message);

    [Theory]
    [InlineData(SplitPart.Val)]
    [InlineData(SplitPart.Test)]
    public void Every_val_and_test_target_point_is_forecast_at_least_once(SplitPart part)
    {
        var set = Synthetic(100, 73);
        var splits = SplitSpec.Parse("0.6,0.2,0.2").For(set);
        const int L = 12, N = 5;
        var w = WindowSet.Create(set, splits, part, L, N);
        for (int s = 0; s < set.Series.Count; s++)
        {
            int a = splits[s].Start(part), b = splits[s].End(part);
            var covered = new int[set.Series[s].Length];
            for (int i = 0; i < w.Count; i++)
            {
                var (ws, t) = w[i];
                if (ws != s) continue;
                Assert.True(t >= a && t + N <= b, $"window targets {t}..{t + N - 1} leave [{a}, {b})");
                for (int h = 0; h < N; h++) covered[t + h]++;
            }
            for (int t = 0; t < covered.Length; t++)
                Assert.True((t >= a && t < b) == (covered[t] > 0), $"series {s} row {t} covered {covered[t]} times, part [{a}, {b})");
            Assert.Equal(b - a - N + 1, Enumerable.Range(0, w.Count).Count(i => w[i].Series == s));
        }
    }

    [Fact]
    public void Training_windows_stay_inside_train()
    {
        var set = Synthetic(100);
        var splits = SplitSpec.Default.For(set);
        var w = WindowSet.Create(set, splits, SplitPart.Train, 10, 4);
        Assert.Equal(70 - 10 - 4 + 1, w.Count);
        for (int i = 0; i < w.Count; i++) Assert.True(w[i].Origin >= 10 && w[i].Origin + 4 <= 70);
    }

    [Fact]
    public void Fill_writes_input_target_mask_and_future()
    {
        var set = Synthetic(40, 40);
        var w = WindowSet.Create(set, SplitSpec.Default.For(set), SplitPart.Test, 3, 2);
        int i = Enumerable.Range(0, w.Count).First(j => w[j].Series == 1);
        var (_, t0) = w[i];
        var input = new float[3 * 4]; var target = new float[2 * 2]; var mask = new float[2 * 2]; var fut = new float[2 * 1];
        w.Fill(i, input, target, mask, fut);
        // input rows t0-3..t0-1: y, z, p, f
        for (int r = 0; r < 3; r++)
        {
            int t = t0 - 3 + r;
            Assert.Equal(new float[] { 100 + t, -(100 + t), t % 5, t % 7 }, input.AsSpan(r * 4, 4).ToArray());
        }
        Assert.Equal(new float[] { 100 + t0, -(100 + t0), 101 + t0, -(101 + t0) }, target);
        Assert.Equal(new float[] { 1, 1, 1, 1 }, mask);
        Assert.Equal(new float[] { t0 % 7, (t0 + 1) % 7 }, fut);

        var batchIn = new float[2 * 12]; var batchT = new float[2 * 4]; var batchM = new float[2 * 4]; var batchF = new float[2 * 2];
        w.FillBatch([i, 0], batchIn, batchT, batchM, batchF);
        Assert.Equal(input, batchIn.AsSpan(0, 12).ToArray());
        Assert.Equal(target, batchT.AsSpan(0, 4).ToArray());
    }

    [Fact]
    public void Mask_marks_missing_targets_in_windows()
    {
        string p = _tmp.Write("m.csv", "date,y\n" + string.Concat(Enumerable.Range(1, 20).Select(i => $"2020-01-{i:00},{(i == 18 ? "" : i.ToString())}\n")));
        var set = CsvLoader.Load(p, new CsvOptions { Fill = FillMode.Mask });
        var w = WindowSet.Create(set, SplitSpec.Parse("0.5,0.2,0.3").For(set), SplitPart.Test, 4, 3);
        var mask = new float[3];
        float[] scratchIn = new float[4], scratchT = new float[3];
        var missingSeen = 0;
        for (int i = 0; i < w.Count; i++)
        {
            w.Fill(i, scratchIn, scratchT, mask, []);
            for (int h = 0; h < 3; h++) Assert.Equal(w[i].Origin + h == 17 ? 0f : 1f, mask[h]);
            missingSeen += mask.Count(m => m == 0);
        }
        Assert.True(missingSeen > 0);
    }

    [Theory]
    [InlineData(0, 3, "lookback must be > 0")]
    [InlineData(3, 0, "horizon must be > 0")]
    [InlineData(30, 20, "shorter than lookback 30 + horizon 20")]
    [InlineData(20, 20, "training part has 28 rows, fewer than lookback 20 + horizon 20")]
    [InlineData(4, 9, "test part has 8 rows, fewer than horizon 9")]
    public void Window_errors(int L, int N, string message)
    {
        var set = Synthetic(40);
        var e = Assert.Throws<GyreDataException>(() =>
        {
            var splits = SplitSpec.Default.For(set);
            WindowSet.Create(set, splits, SplitPart.Train, L, N);
            WindowSet.Create(set, splits, SplitPart.Test, L, N);
        });
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Channel_independent_splits_targets_and_keeps_features()
    {
        var set = Synthetic(10);
        var ci = set.ChannelIndependent();
        Assert.Equal(2, ci.Series.Count);
        Assert.Equal(new[] { "target", "p", "f" }, ci.Columns);
        Assert.Equal(1, ci.Series[1].SourceTarget);
        Assert.Equal(new float[] { -3, 3 % 5, 3 % 7 }, ci.Series[1].Values.AsSpan(9, 3).ToArray());
    }

    [Fact]
    public void Shuffled_order_is_a_seeded_permutation()
    {
        var set = Synthetic(60);
        var w = WindowSet.Create(set, SplitSpec.Default.For(set), SplitPart.Train, 5, 2);
        var a = w.Order(new Rng(7)); var b = w.Order(new Rng(7)); var c = w.Order(new Rng(8));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(Enumerable.Range(0, w.Count), a.OrderBy(x => x));
        Assert.Equal(Enumerable.Range(0, w.Count), w.Order(null));
    }
}
