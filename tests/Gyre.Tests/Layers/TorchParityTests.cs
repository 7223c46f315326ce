using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// Every file in Fixtures/Torch is run: the layer is built from the file's metadata, loaded with its
/// parameters, run forward and backward, and every output and gradient compared with libtorch's.
/// </summary>
public class TorchParityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const float Atol = 1e-5f, Rtol = 1e-4f;

    public static IEnumerable<object[]> Fixtures() => TorchFixture.All();

    [Fact]
    public void FixtureFolderIsNotEmpty() => Assert.True(TorchFixture.All().Count() >= 7);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void MatchesLibtorch(string file)
    {
        var f = TorchFixture.Load(file);
        string kind = f.Meta["kind"];
        var report = kind.EndsWith("cell") ? RunCell(f, kind) : RunLayer(f, kind);
        // Visible in the test log: the max abs error per fixture.
        output.WriteLine($"{file}: max abs error {report:E2}");
    }

    private static double RunLayer(TorchFixture f, string kind)
    {
        var cell = CellRegistry.Parse(kind);
        var layer = new RecurrentLayer(cell, f.Int("input_size"), f.Int("hidden_size"), f.Int("num_layers"),
            bias: true, batchFirst: f.Bool("batch_first"), bidirectional: f.Bool("bidirectional"));
        layer.LoadStateDict(Params(f), source: f.Name);
        bool lstm = cell == CellKind.Lstm;
        var outp = layer.Forward(f["x"], f["h0"], lstm ? f["c0"] : null);
        double err = 0;
        err = Math.Max(err, Compare(f, "y", outp.Output));
        err = Math.Max(err, Compare(f, "h_n", outp.Hidden));
        if (lstm) err = Math.Max(err, Compare(f, "c_n", outp.Cell!));
        var g = layer.Backward(f["dy"], f["dh_n"], lstm ? f["dc_n"] : null);
        err = Math.Max(err, Compare(f, "grad.x", g.Input));
        err = Math.Max(err, Compare(f, "grad.h0", g.Hidden));
        if (lstm) err = Math.Max(err, Compare(f, "grad.c0", g.Cell!));
        foreach (var p in layer.Parameters()) err = Math.Max(err, Compare(f, "grad." + p.Name, p.Grad));
        // The inference path gives the same outputs.
        layer.Training = false;
        var again = layer.Forward(f["x"], f["h0"], lstm ? f["c0"] : null);
        Assert.Equal(outp.Output.ReadOnlySpan.ToArray(), again.Output.ReadOnlySpan.ToArray());
        return err;
    }

    private static double RunCell(TorchFixture f, string kind)
    {
        int i = f.Int("input_size"), h = f.Int("hidden_size");
        RecurrentCell cell = kind == "grucell" ? new GruCell(i, h) : new LstmCell(i, h);
        cell.LoadStateDict(Params(f), source: f.Name);
        bool lstm = kind == "lstmcell";
        var (hn, cn) = cell.Step(f["x"], f["h"], lstm ? f["c"] : null);
        double err = Compare(f, "h_next", hn);
        if (lstm) err = Math.Max(err, Compare(f, "c_next", cn!));
        var (dx, dh, dc) = cell.BackwardStep(f["dh_next"], lstm ? f["dc_next"] : null);
        err = Math.Max(err, Compare(f, "grad.x", dx));
        err = Math.Max(err, Compare(f, "grad.h", dh));
        if (lstm) err = Math.Max(err, Compare(f, "grad.c", dc!));
        foreach (var p in cell.Parameters()) err = Math.Max(err, Compare(f, "grad." + p.Name, p.Grad));
        return err;
    }

    private static Dictionary<string, Tensor> Params(TorchFixture f) =>
        f.Tensors.Where(kv => kv.Key.StartsWith("weight_") || kv.Key.StartsWith("bias_")).ToDictionary();

    private static double Compare(TorchFixture f, string name, Tensor actual)
    {
        var expected = f[name];
        Assert.True(expected.SameShape(actual), $"{f.Name} {name}: shape {Tensor.ShapeString(actual.Shape)} vs {Tensor.ShapeString(expected.Shape)}");
        var e = expected.ReadOnlySpan; var a = actual.ReadOnlySpan;
        double worst = 0;
        for (int k = 0; k < e.Length; k++)
        {
            double diff = Math.Abs(e[k] - a[k]);
            worst = Math.Max(worst, diff);
            Assert.True(diff <= Atol + Rtol * Math.Abs(e[k]), $"{f.Name} {name}[{k}]: {a[k]} vs libtorch {e[k]}");
        }
        return worst;
    }
}
