using System.Text.Json;
using Gyre.Data;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>How a distribution model's sample paths couple the horizon steps.</summary>
public enum PathSampling
{
    /// <summary>Through the model's <see cref="HorizonCopula"/> (independent steps when the model has none).</summary>
    Copula,
    /// <summary>Every step drawn on its own from its marginal: right marginals, no dependence between steps.</summary>
    Independent,
}

/// <summary>What the model file records about a <see cref="HorizonCopula"/> beside its factor.</summary>
internal sealed record CopulaInfo(int Windows, double Shrinkage);

public sealed partial class Forecaster
{
    /// <summary>The distribution model's copula over the horizon, estimated on the validation windows after training
    /// (null for point and quantile models, without a validation split, and in model files from before it).</summary>
    public HorizonCopula? Copula { get; private set; }

    private const string CopulaTensor = "copula.cholesky";

    /// <summary>
    /// Estimates <see cref="Copula"/> from the validation windows: for every window and target with all N values
    /// present, the normal scores z_h = Φ⁻¹(F_h(y_h)) of what happened under the forecast marginals (scaler space;
    /// for counts the randomised PIT u = F(y − 1) + V·p(y), V uniform, which is uniform for a calibrated forecast).
    /// </summary>
    internal void FitCopula(SeriesSet raw)
    {
        Copula = null;
        if (Distribution is not { } kind) return;
        var (view, _, splits) = Views(raw);
        if (!splits.Any(s => s.Count(SplitPart.Val) > 0)) return;
        var windows = WindowSet.Create(view, splits, SplitPart.Val, Options.Lookback, Options.Horizon);
        int n = Options.Horizon, c = windows.TargetWidth, q = Network.Config.QuantileCount;
        const int batch = 256;
        var pred = new float[batch * n * c * q];
        var input = new float[Options.Lookback * windows.InputWidth];
        var target = new float[n * c]; var mask = new float[n * c];
        var future = new float[n * windows.FutureWidth];
        var scores = new List<float>();
        var rng = new Rng(Options.Seed ^ 0xC0B07AUL);
        int rows = 0;
        var all = Enumerable.Range(0, windows.Count).ToArray();
        for (int s = 0; s < all.Length; s += batch)
        {
            int b = Math.Min(batch, all.Length - s);
            PredictWindows(windows, all.AsSpan(s, b), pred);
            for (int i = 0; i < b; i++)
            {
                windows.Fill(all[s + i], input, target, mask, future);
                for (int j = 0; j < c; j++)
                {
                    bool complete = true;
                    for (int h = 0; h < n && complete; h++) complete = mask[h * c + j] != 0f;
                    if (!complete) continue;
                    for (int h = 0; h < n; h++)
                    {
                        var theta = pred.AsSpan(((i * n + h) * c + j) * q, q);
                        double y = target[h * c + j], u = Distributions.Cdf(kind, theta, y);
                        if (kind == LossKind.NegBinomial) u -= rng.NextDouble() * (u - Distributions.Cdf(kind, theta, y - 1));
                        // Keep Φ⁻¹ finite: a value far outside its forecast is a very large score, not an infinite one.
                        scores.Add((float)Distributions.NormalQuantile(Math.Clamp(u, 1e-9, 1 - 1e-9)));
                    }
                    rows++;
                }
            }
        }
        Copula = HorizonCopula.Estimate([.. scores], rows, n);
    }

    /// <summary>
    /// Draws S = <see cref="ForecastOptions.Samples"/> sample paths over the horizon for one target of one window from the
    /// natural parameters theta [N, C, Q] (target <paramref name="j"/> of C), each value mapped through
    /// <paramref name="map"/>: paths [S, N]. <see cref="PathSampling.Copula"/> couples the steps through
    /// <see cref="Copula"/>; otherwise each step is its own draw (<see cref="Distributions.Sample"/>).
    /// </summary>
    internal void DrawPaths(LossKind kind, ReadOnlySpan<float> theta, int j, int c, Rng rng, Func<float, float> map,
        PathSampling sampling, Span<float> paths)
    {
        int n = Options.Horizon, q = Network.Config.QuantileCount, samples = Options.Samples;
        var copula = sampling == PathSampling.Copula ? Copula : null;
        if (copula is null)
        {
            for (int h = 0; h < n; h++)
            {
                var th = theta.Slice((h * c + j) * q, q);
                for (int p = 0; p < samples; p++) paths[p * n + h] = map((float)Distributions.Sample(kind, th, rng));
            }
            return;
        }
        Span<double> eps = n <= 1024 ? stackalloc double[n] : new double[n];
        Span<double> z = n <= 1024 ? stackalloc double[n] : new double[n];
        for (int p = 0; p < samples; p++)
        {
            copula.Draw(rng, eps, z);
            for (int h = 0; h < n; h++)
            {
                var th = theta.Slice((h * c + j) * q, q);
                // The gaussian marginal is μ + σz itself; the others go through u = Φ(z) and their quantile function.
                double y = kind == LossKind.Gaussian ? th[0] + th[1] * z[h] : Distributions.Quantile(kind, th, Distributions.NormalCdf(z[h]));
                paths[p * n + h] = map((float)y);
            }
        }
    }

    /// <summary>Empirical quantiles at <paramref name="levels"/> of <paramref name="values"/> (sorted in place;
    /// linear interpolation between order statistics).</summary>
    internal static void EmpiricalQuantiles(Span<float> values, ReadOnlySpan<float> levels, Span<float> quantiles)
    {
        values.Sort();
        for (int r = 0; r < levels.Length; r++)
        {
            double pos = levels[r] * (values.Length - 1);
            int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, values.Length - 1);
            quantiles[r] = (float)(values[lo] + (pos - lo) * (values[hi] - values[lo]));
        }
    }

    private void AddCopula(Dictionary<string, Tensor> tensors, Dictionary<string, string> meta)
    {
        if (Copula is not { } cop) return;
        tensors[CopulaTensor] = new Tensor(cop.Cholesky, 0, cop.Horizon, cop.Horizon);
        meta["copula"] = JsonSerializer.Serialize(new CopulaInfo(cop.Windows, cop.Shrinkage), Json);
    }

    private void ReadCopula(IO.SafetensorsFile file)
    {
        if (!file.Tensors.TryGetValue(CopulaTensor, out var t)) return;
        int n = Options.Horizon;
        if (!t.HasShape(n, n)) throw new InvalidDataException($"{CopulaTensor} is {t}, the horizon needs [{n}, {n}]");
        var info = file.Metadata.TryGetValue("copula", out var m) ? JsonSerializer.Deserialize<CopulaInfo>(m, Json) : null;
        Copula = new HorizonCopula(n, t.ReadOnlySpan.ToArray(), info?.Windows ?? 0, info?.Shrinkage ?? double.NaN);
    }
}
