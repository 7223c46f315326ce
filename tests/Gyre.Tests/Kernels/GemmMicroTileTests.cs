using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Gyre.Kernels;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>
/// The fused multi-row steps' register tiles against their scalar twin, the FMA chain c = fma(a[r, p], b[p, j], c) for
/// p = 0..kc−1 written out here: <see cref="GemmMicro.Kernel512x48{TR}"/> (6×48 over a [kc, 48] panel, the GRU rows
/// step with AVX-512) and <see cref="GemmMicro.Kernel256{TR}"/> (6×16 over a [kc, 16] panel: the GEMM's AVX2 tile and, once per gate
/// over a gate-major block, both rows steps with AVX2). The same bits for every row count 1..6, every depth 0..70, in-place A strides, special
/// values, and nothing written outside the tile's rows and columns.
/// </summary>
[Trait("Category", "Kernels")]
public unsafe class GemmMicroTileTests
{
    public enum Tile { Wide48, Panel16 }

    private static bool Runs(Tile tile) => tile == Tile.Wide48 ? Vector512.IsHardwareAccelerated : Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>Columns the tile computes, and the B panel's row stride.</summary>
    private static (int Width, int Ldb) Shape(Tile tile) => tile == Tile.Wide48 ? (48, 48) : (16, 16);

    private static void Run(Tile tile, int rows, int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc)
    {
        if (tile == Tile.Wide48)
            switch (rows)
            {
                case 6: GemmMicro.Kernel512x48<R6>(kc, a, rs, ps, b, c, ldc); break;
                case 5: GemmMicro.Kernel512x48<R5>(kc, a, rs, ps, b, c, ldc); break;
                case 4: GemmMicro.Kernel512x48<R4>(kc, a, rs, ps, b, c, ldc); break;
                case 3: GemmMicro.Kernel512x48<R3>(kc, a, rs, ps, b, c, ldc); break;
                case 2: GemmMicro.Kernel512x48<R2>(kc, a, rs, ps, b, c, ldc); break;
                default: GemmMicro.Kernel512x48<R1>(kc, a, rs, ps, b, c, ldc); break;
            }
        else
            switch (rows)
            {
                case 6: GemmMicro.Kernel256<R6>(kc, a, rs, ps, b, c, ldc, true); break;
                case 5: GemmMicro.Kernel256<R5>(kc, a, rs, ps, b, c, ldc, true); break;
                case 4: GemmMicro.Kernel256<R4>(kc, a, rs, ps, b, c, ldc, true); break;
                case 3: GemmMicro.Kernel256<R3>(kc, a, rs, ps, b, c, ldc, true); break;
                case 2: GemmMicro.Kernel256<R2>(kc, a, rs, ps, b, c, ldc, true); break;
                default: GemmMicro.Kernel256<R1>(kc, a, rs, ps, b, c, ldc, true); break;
            }
    }

    private static void Compare(Tile tile, int rows, int kc, float[] a, int lda, float[] b, float[] c0, int ldc, string what)
    {
        var (width, ldb) = Shape(tile);
        var twin = (float[])c0.Clone();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++)
            {
                float acc = twin[r * ldc + j];
                for (int p = 0; p < kc; p++) acc = MathF.FusedMultiplyAdd(a[r * lda + p], b[p * ldb + j], acc);
                twin[r * ldc + j] = acc;
            }
        var fast = (float[])c0.Clone();
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = fast) Run(tile, rows, kc, pa, lda, 1, pb, pc, ldc);
        for (int i = 0; i < fast.Length; i++)
            if (BitConverter.SingleToInt32Bits(fast[i]) != BitConverter.SingleToInt32Bits(twin[i]))
                Assert.Fail($"{tile} {what}: element {i} (row {i / ldc}, column {i % ldc}): kernel {fast[i]:R}, scalar twin {twin[i]:R}");
    }

    private static float[] Uniform(Rng rng, int n)
    {
        var v = new float[n];
        rng.Uniform(v, -1f, 1f);
        return v;
    }

    [Theory]
    [InlineData(Tile.Wide48)]
    [InlineData(Tile.Panel16)]
    public void EveryRowCountAndDepthMatchesTheScalarTwin(Tile tile)
    {
        if (!Runs(tile)) return;   // each tile runs only where its vector width is accelerated (CI turns AVX-512 off in turn)
        var rng = new Rng(21);
        for (int rows = 1; rows <= 6; rows++)
            for (int kc = 0; kc <= 70; kc++)
            {
                int lda = kc + 3, ldc = 53;   // A rows in place with a stride; C rows wider than the tile (columns 48.. untouched)
                Compare(tile, rows, kc, Uniform(rng, 6 * lda), lda, Uniform(rng, Math.Max(1, kc) * 48), Uniform(rng, 6 * ldc), ldc, $"rows={rows} kc={kc}");
            }
    }

    [Theory]
    [InlineData(Tile.Wide48)]
    [InlineData(Tile.Panel16)]
    public void SpecialValuesMatchTheScalarTwin(Tile tile)
    {
        if (!Runs(tile)) return;
        var rng = new Rng(22);
        float[] specials = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, 1e-40f, float.MaxValue, -float.MaxValue];
        const int kc = 17, lda = 17, ldc = 48;
        for (int shift = 0; shift < 5; shift++)
        {
            var a = Uniform(rng, 6 * lda); var b = Uniform(rng, kc * 48); var c = Uniform(rng, 6 * ldc);
            for (int i = shift; i < a.Length; i += 7) a[i] = specials[(i + shift) % specials.Length];
            for (int i = shift; i < b.Length; i += 11) b[i] = specials[(i / 11 + shift) % specials.Length];
            for (int i = shift; i < c.Length; i += 13) c[i] = specials[(i / 13 + shift) % specials.Length];
            Compare(tile, 6, kc, a, lda, b, c, ldc, $"shift={shift}");
        }
    }
}
