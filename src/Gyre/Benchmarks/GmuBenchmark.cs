using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Benchmarks;

/// <summary>
/// <c>gyre bench --cell gmu</c>: times the gated memory unit layer (<see cref="GatedMemoryUnit"/>) as it runs in the
/// encoder's stack, y = σ(W_g·x + b_g) ⊙ m over all B·T rows at once: the GEMM [B·T, I] × [I, H]ᵀ and the gate kernel
/// forward ("infer"), plus its backward from dy = ones ("train": ∂L/∂x, ∂L/∂m, dW_g, db_g). Rows have the cells'
/// JSON fields with cell "gmu", input = D_x and hidden = D_m (= D·W_0 in the encoder, where D_x = D_m).
/// It has no time loop: steps/s is T over the time of the whole layer.
/// </summary>
public static class GmuBenchmark
{
    /// <summary>The name `gyre bench --cell` takes for it (not a registered cell: it has no state and two inputs).</summary>
    public const string Name = "gmu";

    /// <summary>Its rows at the cells table's two shapes (B = 64, T = 100 and B = 1, T = 1000) with D_x = D_m = 128,
    /// the width it has after a 128-unit recurrent layer.</summary>
    public static IReadOnlyList<RecurrentBenchShape> Grid => [new(Name, 64, 100, 128, 128), new(Name, 1, 1000, 128, 128)];

    /// <summary>Multiply-add FLOPs of one forward pass, 2·B·T·I·H (the GEMM; the gate not counted); training counts three times this.</summary>
    public static double ForwardFlops(RecurrentBenchShape s) => 2.0 * s.Batch * s.Seq * s.Input * s.Hidden;

    /// <summary>Measures one shape in one mode, as <see cref="RecurrentBenchmark.Run"/> does for a cell.</summary>
    public static RecurrentBenchResult Run(RecurrentBenchShape shape, string mode, int threads, int reps, int warmup = 3)
    {
        bool train = RecurrentBenchmark.Training(mode);
        var (_, b, t, i, h) = shape;
        var gmu = new GatedMemoryUnit(i, h, seed: 1) { Training = train };
        var rng = new Rng(2);
        var x = Tensor.Zeros(b, t, i);                      // [B, T, D_x]
        var m = Tensor.Zeros(b, t, h);                      // [B, T, D_m]
        rng.Uniform(x.Span, -1f, 1f);
        rng.Uniform(m.Span, -1f, 1f);
        var dy = Tensor.Zeros(b, t, h);                     // [B, T, D_m]
        dy.Span.Fill(1f);
        var (median, alloc) = RecurrentBenchmark.Time(() =>
        {
            gmu.Forward(x, m, null);
            if (train) gmu.Backward(dy);
        }, threads, reps, warmup);
        double flops = ForwardFlops(shape) * (train ? 3 : 1);
        return new RecurrentBenchResult("gyre", shape, mode, threads, median,
            flops / (median * 1e-3) / 1e9, t / (median * 1e-3), alloc, RecurrentBenchmark.PeakRssMb());
    }
}
