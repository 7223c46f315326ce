using Gyre.Kernels;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>The unit-block packing of W_hh (and of W_ih, depth I) is a plain relayout: every float lands where the layout says, padded units are 0.</summary>
[Trait("Category", "Kernels")]
public unsafe class UnitBlockPackingTests
{
    [Theory]
    [InlineData(1, 3, false)]
    [InlineData(5, 4, true)]
    [InlineData(16, 3, false)]
    [InlineData(37, 4, false)]
    [InlineData(64, 3, true)]
    [InlineData(100, 4, false)]
    [InlineData(131, 3, false)]
    [InlineData(144, 4, true)]
    [InlineData(32, 4, true, 5)]
    [InlineData(48, 4, true, 33)]
    [InlineData(70, 3, false, 17)]
    public void EveryWeightLandsInItsUnitBlock(int hidden, int gates, bool narrow, int depth = 0)
    {
        int hp = RecurrentStepKernels.PaddedUnits(hidden), k = depth > 0 ? depth : hidden;
        var w = new float[gates * hidden * k];
        for (int i = 0; i < w.Length; i++) w[i] = i + 1;                 // every value distinct and non-zero
        var packed = new float[RecurrentStepKernels.PackedLength(hidden, gates, k)];
        Array.Fill(packed, float.NaN);
        fixed (float* pw = w) fixed (float* pp = packed) RecurrentStepKernels.PackUnitBlocks(pp, pw, hidden, gates, narrow, depth);
        // Block at u0 (width U) is [K, G, U] at offset u0·G·K: element (p, g, u) is W_hh[g·H + u0 + u, p], 0 past H; narrow
        // blocks gate-major, [G, K, 16], where the machine takes the multi-row steps' tile once per gate (no AVX-512; CI
        // runs this class with AVX-512 off too).
        bool gateMajor = narrow && RecurrentStepKernels.GateMajorNarrowBlocks;
        for (int u0 = 0; u0 < hp;)
        {
            int width = narrow ? RecurrentStepKernels.Lanes : RecurrentStepKernels.BlockWidth(u0, hp);
            for (int p = 0; p < k; p++)
                for (int g = 0; g < gates; g++)
                    for (int u = 0; u < width; u++)
                    {
                        int unit = u0 + u;
                        float expected = unit < hidden ? w[((long)g * hidden + unit) * k + p] : 0f;
                        long inBlock = gateMajor ? ((long)g * k + p) * width + u : ((long)p * gates + g) * width + u;
                        float actual = packed[(long)u0 * gates * k + inBlock];
                        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
                            Assert.Fail($"H {hidden}, G {gates}, block {u0}: (k {p}, gate {g}, unit {u}) expected {expected}, got {actual}");
                    }
            u0 += width;
        }
    }
}
