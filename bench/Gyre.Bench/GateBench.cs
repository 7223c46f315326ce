using System.Diagnostics;
using System.Runtime.Intrinsics;
using Gyre.Kernels;
using Gyre.Kernels.Reference;

namespace Gyre.Bench;

/// <summary>
/// `gates [hidden] [batch]`: median ns per call of the fused SIMD gate kernels and activations against
/// their scalar twins (GateReference, which computes σ and tanh in double), one time step of [batch, hidden]
/// (default H = 128, B = 64). Single thread, after warm-up; on a shared machine repeat and compare medians.
/// </summary>
internal static class GateBench
{
    public static int Run(string[] args)
    {
        int h = args.Length > 0 ? int.Parse(args[0]) : 128;
        int b = args.Length > 1 ? int.Parse(args[1]) : 64;
        int n = b * h;
        Console.WriteLine($"gates: H = {h}, B = {b}; SIMD path {Activations.SimdPath} (Vector512 {Vector512.IsHardwareAccelerated}, " +
                          $"Vector256 {Vector256.IsHardwareAccelerated}, Vector128 {Vector128.IsHardwareAccelerated})");
        var rng = new Random(1);
        float[] Rand(int len, float scale) { var a = new float[len]; for (int i = 0; i < len; i++) a[i] = scale * (2 * (float)rng.NextDouble() - 1); return a; }

        float[] gi = Rand(3 * n, 3), gh = Rand(3 * n, 3), hp = Rand(n, 1), hn = new float[n], gruSaved = new float[4 * n];
        float[] dGi = new float[3 * n], dGh = new float[3 * n], dhp = new float[n], dh = Rand(n, 1);
        GateReference.GruForward(hn, gruSaved, gi, gh, hp, b, h);
        float[] a4 = Rand(4 * n, 3), cp = Rand(n, 1), cn = new float[n], lstmSaved = new float[5 * n], da = new float[4 * n], dcp = new float[n], dc = Rand(n, 1);
        GateReference.LstmForward(hn, cn, lstmSaved, a4, cp, b, h);
        float[] x = Rand(n, 6), y = new float[n];

        Console.WriteLine($"{"kernel",-22}{"SIMD ns",12}{"scalar ns",12}{"speed-up",10}{"SIMD ns/unit",14}");
        Row("GRU forward (train)", () => GruGates.Forward(hn, gruSaved, gi, gh, hp, b, h), () => GateReference.GruForward(hn, gruSaved, gi, gh, hp, b, h), n);
        Row("GRU forward (infer)", () => GruGates.Forward(hn, Span<float>.Empty, gi, gh, hp, b, h), () => GateReference.GruForward(hn, Span<float>.Empty, gi, gh, hp, b, h), n);
        Row("GRU backward", () => GruGates.Backward(dGi, dGh, dhp, dh, gruSaved, hp, b, h), () => GateReference.GruBackward(dGi, dGh, dhp, dh, gruSaved, hp, b, h), n);
        Row("LSTM forward (train)", () => LstmGates.Forward(hn, cn, lstmSaved, a4, cp, b, h), () => GateReference.LstmForward(hn, cn, lstmSaved, a4, cp, b, h), n);
        Row("LSTM backward", () => LstmGates.Backward(da, dcp, dh, dc, lstmSaved, cp, b, h), () => GateReference.LstmBackward(da, dcp, dh, dc, lstmSaved, cp, b, h), n);
        Row("sigmoid [B*H]", () => Activations.Sigmoid(y, x), () => GateReference.Sigmoid(y, x), n);
        Row("tanh [B*H]", () => Activations.Tanh(y, x), () => GateReference.Tanh(y, x), n);
        Row("exp [B*H]", () => Activations.Exp(y, x), () => GateReference.Exp(y, x), n);
        return 0;
    }

    static void Row(string name, Action simd, Action scalar, int units)
    {
        double s = MedianNs(simd), r = MedianNs(scalar);
        Console.WriteLine($"{name,-22}{s,12:F0}{r,12:F0}{r / s,9:F1}x{s / units,14:F3}");
    }

    /// <summary>Median over 31 samples of the mean ns per call, each sample about 2 ms, after warm-up.</summary>
    static double MedianNs(Action call)
    {
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (sw.ElapsedMilliseconds < 150 || warm < 50) { call(); warm++; } // past tier-up and OSR
        int reps = Math.Max(1, (int)(warm * 2.0 / sw.Elapsed.TotalMilliseconds));
        var samples = new double[31];
        for (int k = 0; k < samples.Length; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < reps; i++) call();
            samples[k] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / reps;
        }
        Array.Sort(samples);
        return samples[samples.Length / 2];
    }
}
