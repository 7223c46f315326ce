using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>"paralstm" as a registered cell: finite differences (random upstream, odd sizes, T = 1, B = 1,
/// bidirectional, two layers) and the kernel against its scalar twin (Newton: ParallelCellsTests, ParallelInTimeTests).</summary>
public class ParaLstmCellTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // I, H, layers, bidirectional, B, T, bias, batchFirst
        yield return [1, 1, 1, false, 1, 1, true, true];
        yield return [3, 5, 1, false, 1, 7, true, false];
        yield return [5, 7, 2, true, 3, 4, true, true];
        yield return [2, 3, 2, true, 2, 1, false, false];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(int inputSize, int hidden, int layers, bool bidir, int batch, int steps, bool bias, bool batchFirst)
    {
        var rng = new Rng(23);
        var layer = new RecurrentLayer(CellRegistry.Get("paralstm"), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 6);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        Assert.Equal(["h", "c"], layer.Cell.StateNames);
        Assert.True(layer.Cell.HasParallelForm);   // Newton with 2×2 blocks (ParallelCellsTests)
        CheckLayer(layer, rng, "paralstm", batch, steps);
    }

    static readonly float[] Specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 88f, -88f, 9.5f, -9.5f];

    [Trait("Category", "Kernels")]
    [Fact]
    public void KernelMatchesItsScalarTwin()
    {
        var rng = new Rng(3);
        float[] R(int len, float scale) { var a = new float[len]; rng.Uniform(a, -scale, scale); return a; }
        foreach (int rows in new[] { 1, 3 })
            for (int h = 0; h <= 70; h++)
            {
                int n = rows * h;
                for (int special = -1; special < 6; special++)
                {
                    var gx = R(3 * n, 3f); var hp = R(n, 1f); var cp = R(n, 1f); var a = R(3 * h, 1f); var p = R(2 * h, 1f);
                    var dh = R(n, 1f); var dc = R(n, 1f);
                    var pick = special switch { 0 => gx, 1 => hp, 2 => cp, 3 => a, 4 => dh, 5 => dc, _ => null };
                    if (pick != null) for (int k = special % 3; k < pick.Length; k += 3) pick[k] = Specials[(k / 3 + special) % Specials.Length];
                    var hF = new float[n]; var cF = new float[n]; var sF = new float[6 * n];
                    var hR = new float[n]; var cR = new float[n]; var sR = new float[6 * n];
                    ParaLstmGates.Forward(hF, cF, sF, gx, hp, cp, a, p, rows, h);
                    ParaLstmReference.Forward(hR, cR, sR, gx, hp, cp, a, p, rows, h);
                    for (int k = 0; k < n; k++)
                    {
                        Assert.True(Close(hF[k], hR[k], 1e-5f, 1e-5f), $"R={rows} H={h} special {special} h'[{k}]: {hF[k]:R} vs {hR[k]:R}");
                        Assert.True(Close(cF[k], cR[k], 1e-5f, 1e-5f), $"R={rows} H={h} special {special} c'[{k}]: {cF[k]:R} vs {cR[k]:R}");
                    }
                    var dgF = new float[3 * n]; var dgR = new float[3 * n];
                    var dhF = new float[n]; var dhR = new float[n]; var dcF = new float[n]; var dcR = new float[n];
                    ParaLstmGates.Backward(dgF, dhF, dcF, dh, dc, sR, hp, a, p, rows, h);
                    ParaLstmReference.Backward(dgR, dhR, dcR, dh, dc, sR, hp, a, p, rows, h);
                    for (int k = 0; k < 3 * n; k++) Assert.True(Ulps(dgF[k], dgR[k]) == 0, $"dgx[{k}]: {dgF[k]:R} vs {dgR[k]:R}");
                    for (int k = 0; k < n; k++)
                    {
                        Assert.True(Ulps(dhF[k], dhR[k]) == 0, $"dh[{k}]: {dhF[k]:R} vs {dhR[k]:R}");
                        Assert.True(Ulps(dcF[k], dcR[k]) == 0, $"dc[{k}]: {dcF[k]:R} vs {dcR[k]:R}");
                    }
                }
            }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void ShortSpansThrow()
    {
        float[] F(int n) => new float[n];
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(5), F(6), default, F(18), F(6), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(6), F(6), default, F(17), F(6), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(6), F(6), default, F(18), F(6), F(5), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(6), F(6), default, F(18), F(6), F(6), F(8), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(6), F(6), default, F(18), F(6), F(6), F(9), F(5), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Forward(F(6), F(6), F(35), F(18), F(6), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Backward(F(17), F(6), F(6), F(6), F(6), F(36), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Backward(F(18), F(6), F(5), F(6), F(6), F(36), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Backward(F(18), F(6), F(6), F(6), F(6), F(35), F(6), F(9), F(6), 2, 3));
        Assert.Throws<ArgumentException>(() => ParaLstmGates.Backward(F(18), F(6), F(6), F(6), F(5), F(36), F(6), F(9), F(6), 2, 3));
    }
}
