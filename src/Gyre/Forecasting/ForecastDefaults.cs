using Gyre.Data;

namespace Gyre.Forecasting;

/// <summary>
/// Defaults chosen from the data for the options a user left out, each stated with its reason:
/// <list type="bullet">
/// <item>lookback L = max(2N, 2m) for horizon N and season m (m &gt; 1: rounded up to whole seasons, so the
/// window holds at least two of them), at most (training rows − N)/2 so that half the training rows start a window;</item>
/// <item>channel independence when the data have two or more target columns: one shared model over each column
/// as its own series (more training windows, no cross-channel overfitting; on ETTh2 at horizon 720 it takes the
/// test MSE from 0.529 to 0.441);</item>
/// <item>patch P (when L ≥ 48: a recurrent step per value is slow over long windows and learns no better) = m
/// when it divides L at least twice, else the divisor of L nearest L/8 (about eight segment steps); none below 48.</item>
/// </list>
/// </summary>
public static class ForecastDefaults
{
    /// <summary>Lookbacks from this length up are read in segments.</summary>
    public const int PatchFrom = 48;

    /// <summary>
    /// <paramref name="o"/> with lookback and/or patch chosen from the data at <paramref name="path"/>, and a line saying
    /// what was chosen and why (null when nothing was).
    /// </summary>
    public static (ForecastOptions Options, string? Line) FromData(string path, ForecastOptions o, bool lookback, bool patch, bool channelIndependent = false)
    {
        if (!lookback && !patch && !channelIndependent) return (o, null);
        var set = CsvLoader.Load(path, Forecaster.CsvOptionsFor(o));
        var splits = SplitSpec.Parse(o.Split).For(set);
        var season = o.Season > 0 ? new SeasonChoice(o.Season, "given with --season")
            : Seasonality.Choose(set.Series[0], set.ColumnCount, 0, splits[0].TrainEnd);
        int m = season.Season, n = o.Horizon;
        int train = splits.Min(s => s.TrainEnd);
        var said = new List<string>();
        if (lookback)
        {
            var (l, why) = Lookback(n, m, train);
            o = o with { Lookback = l };
            said.Add($"--lookback {l} ({why})");
        }
        if (channelIndependent && set.TargetCount >= 2 && !o.ChannelIndependent)
        {
            o = o with { ChannelIndependent = true };
            said.Add($"--channel-independent ({set.TargetCount} target columns: one shared model over each)");
        }
        if (patch)
        {
            var (p, why) = Patch(o.Lookback, m);
            o = o with { Patch = p };
            said.Add(p > 1 ? $"--patch {p} ({why})" : $"no --patch ({why})");
        }
        return (o, $"chosen from the data: {string.Join(", ", said)}; season {m}: {season.Reason}");
    }

    /// <summary>The lookback for horizon <paramref name="n"/>, season <paramref name="m"/> and <paramref name="train"/> training rows, and why.</summary>
    public static (int Lookback, string Why) Lookback(int n, int m, int train)
    {
        int l = Math.Max(2 * n, m > 1 ? 2 * m : 0);
        string why = m > 1 && 2 * m > 2 * n ? $"two seasons of {m}" : $"twice the horizon {n}";
        if (m > 1 && l % m != 0) { l = (l / m + 1) * m; why += $", rounded up to whole seasons of {m}"; }
        int cap = Math.Max((train - n) / 2, 1);
        if (l > cap) { l = cap; why = $"half of the {train} training rows after the horizon {n}"; }
        return (l, why);
    }

    /// <summary>The patch length for lookback <paramref name="l"/> and season <paramref name="m"/> (0 = none), and why.</summary>
    public static (int Patch, string Why) Patch(int l, int m)
    {
        if (l < PatchFrom) return (0, $"lookback {l} < {PatchFrom}: one step per value");
        if (m > 1 && l % m == 0 && l / m >= 2) return (m, $"the season, {l / m} segment steps");
        int best = 0;
        for (int d = 2; d <= l / 2; d++)
            if (l % d == 0 && (best == 0 || Math.Abs(l / (double)d - 8) < Math.Abs(l / (double)best - 8))) best = d;
        return best > 1 ? (best, $"{l / best} segment steps") : (0, $"lookback {l} has no divisor for segments");
    }
}
