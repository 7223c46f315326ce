using System.Runtime.Intrinsics;
using Gyre.Kernels;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>
/// <see cref="GemmMicro.Kernel512x48{TR}"/> (the GRU rows step's 6×48 tile) against its scalar twin, the FMA chain
/// c = fma(a[r, p], b[p, j], c) for p = 0..kc−1 written out here: the same bits for every row count 1..6, every depth
/// 0..70, in-place A strides, special values, and nothing written outside the tile's rows and 48 columns.
/// </summary>
[Trait("Category", "Kernels")]
public unsafe class GemmMicroTileTests
{
    private static void Run(int rows, int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc)
    {
        switch (rows)
        {
            case 6: GemmMicro.Kernel512x48<R6>(kc, a, rs, ps, b, c, ldc); break;
            case 5: GemmMicro.Kernel512x48<R5>(kc, a, rs, ps, b, c, ldc); break;
            case 4: GemmMicro.Kernel512x48<R4>(kc, a, rs, ps, b, c, ldc); break;
            case 3: GemmMicro.Kernel512x48<R3>(kc, a, rs, ps, b, c, ldc); break;
            case 2: GemmMicro.Kernel512x48<R2>(kc, a, rs, ps, b, c, ldc); break;
            default: GemmMicro.Kernel512x48<R1>(kc, a, rs, ps, b, c, ldc); break;
        }
    }

    private static void Compare(int rows, int kc, float[] a, int lda, float[] b, float[] c0, int ldc, string what)
    {
        var twin = (float[])c0.Clone();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < 48; j++)
            {
                float acc = twin[r * ldc + j];
                for (int p = 0; p < kc; p++) acc = MathF.FusedMultiplyAdd(a[r * lda + p], b[p * 48 + j], acc);
                twin[r * ldc + j] = acc;
            }
        var fast = (float[])c0.Clone();
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = fast) Run(rows, kc, pa, lda, 1, pb, pc, ldc);
        for (int i = 0; i < fast.Length; i++)
            if (BitConverter.SingleToInt32Bits(fast[i]) != BitConverter.SingleToInt32Bits(twin[i]))
                Assert.Fail($"{what}: element {i} (row {i / ldc}, column {i % ldc}): kernel {fast[i]:R}, scalar twin {twin[i]:R}");
    }

    private static float[] Uniform(Rng rng, int n)
    {
        var v = new float[n];
        rng.Uniform(v, -1f, 1f);
        return v;
    }

    [Fact]
    public void EveryRowCountAndDepthMatchesTheScalarTwin()
    {
        if (!Vector512.IsHardwareAccelerated) return;   // the tile runs only where Vector512 is accelerated
        var rng = new Rng(21);
        for (int rows = 1; rows <= 6; rows++)
            for (int kc = 0; kc <= 70; kc++)
            {
                int lda = kc + 3, ldc = 53;   // A rows in place with a stride; C rows wider than the tile (columns 48.. untouched)
                Compare(rows, kc, Uniform(rng, 6 * lda), lda, Uniform(rng, Math.Max(1, kc) * 48), Uniform(rng, 6 * ldc), ldc, $"rows={rows} kc={kc}");
            }
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        if (!Vector512.IsHardwareAccelerated) return;
        var rng = new Rng(22);
        float[] specials = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, 1e-40f, float.MaxValue, -float.MaxValue];
        const int kc = 17, lda = 17, ldc = 48;
        for (int shift = 0; shift < 5; shift++)
        {
            var a = Uniform(rng, 6 * lda); var b = Uniform(rng, kc * 48); var c = Uniform(rng, 6 * ldc);
            for (int i = shift; i < a.Length; i += 7) a[i] = specials[(i + shift) % specials.Length];
            for (int i = shift; i < b.Length; i += 11) b[i] = specials[(i / 11 + shift) % specials.Length];
            for (int i = shift; i < c.Length; i += 13) c[i] = specials[(i / 13 + shift) % specials.Length];
            Compare(6, kc, a, lda, b, c, ldc, $"shift={shift}");
        }
    }
}
