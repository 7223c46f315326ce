using Gyre.IO;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.IO;

public sealed class StateDictTests
{
    private static readonly string[] Gru = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

    private static Dictionary<string, Tensor> Dict(params string[] names)
    {
        var d = new Dictionary<string, Tensor>();
        for (int i = 0; i < names.Length; i++) d[names[i]] = Tensor.FromSpan([i], 1);
        return d;
    }

    [Fact]
    public void BareNames_MatchAsIs()
    {
        var d = Dict([.. Gru, "fc.weight"]);
        var r = StateDict.StripPrefix(d, Gru);
        Assert.Equal(d.Keys.Order(), r.Keys.Order());
        foreach (var n in Gru) Assert.Same(d[n], r[n]);
    }

    [Theory]
    [InlineData("rnn.")]
    [InlineData("model.encoder.")]
    public void ModulePrefix_IsFoundAndStripped(string prefix)
    {
        var d = Dict([.. Gru.Select(n => prefix + n), "head.weight", "head.bias"]);
        var r = StateDict.StripPrefix(d, Gru);
        Assert.Equal(Gru.Order(), r.Keys.Order()); // head.* is outside the prefix
        foreach (var n in Gru) Assert.Same(d[prefix + n], r[n]);
    }

    [Fact]
    public void ExtraTensorsUnderThePrefix_AreKept()
    {
        var d = Dict([.. Gru.Select(n => "rnn." + n), "rnn.weight_ih_l1"]);
        var r = StateDict.StripPrefix(d, Gru);
        Assert.Contains("weight_ih_l1", r.Keys);
    }

    [Fact]
    public void ExactNamesWin_OverAPrefixedCopy()
    {
        // The torch fixtures hold both "weight_ih_l0" and "grad.weight_ih_l0".
        var file = Safetensors.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Torch", "gru_i5_h7_l1_b3_t11_s1.safetensors"));
        var r = StateDict.StripPrefix(file.Tensors, Gru);
        foreach (var n in Gru) Assert.Same(file.Get(n), r[n]);
        var grads = StateDict.StripPrefix(file.Tensors, Gru, prefix: "grad.");
        foreach (var n in Gru) Assert.Same(file.Get("grad." + n), grads[n]);
        Assert.Equal([21, 5], grads["weight_ih_l0"].Shape);
    }

    [Fact]
    public void PrefixMustEndAtAModuleBoundary()
    {
        // "xweight_ih_l0" ends with "weight_ih_l0" but "x" is not a module path.
        var d = Dict(Gru.Select(n => "x" + n).ToArray());
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.StripPrefix(d, Gru, source: "m.safetensors"));
        Assert.StartsWith("m.safetensors: missing 4 of 4", ex.Message);
    }

    [Fact]
    public void SeveralCompletePrefixes_AreAmbiguous()
    {
        var d = Dict([.. Gru.Select(n => "encoder.rnn." + n), .. Gru.Select(n => "decoder.rnn." + n)]);
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.StripPrefix(d, Gru));
        Assert.Contains("'decoder.rnn.', 'encoder.rnn.'", ex.Message);
        var r = StateDict.StripPrefix(d, Gru, prefix: "decoder.rnn.");
        foreach (var n in Gru) Assert.Same(d["decoder.rnn." + n], r[n]);
    }

    [Fact]
    public void NothingMatches_MessageListsMissingAndFound()
    {
        var d = Dict("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "fc.bias");
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.StripPrefix(d, Gru, source: "ckpt.safetensors"));
        Assert.Contains("ckpt.safetensors", ex.Message);
        Assert.Contains("missing 1 of 4", ex.Message);
        Assert.Contains("'rnn.'", ex.Message);
        Assert.Contains(": bias_hh_l0;", ex.Message);
        Assert.Contains("names found (4): fc.bias, rnn.bias_ih_l0, rnn.weight_hh_l0, rnn.weight_ih_l0", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void NoCandidateAtAll_ListsEveryExpectedName()
    {
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.StripPrefix(Dict("foo", "bar"), Gru));
        Assert.Contains("missing 4 of 4 expected tensors with or without a module prefix: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0", ex.Message);
        Assert.Contains("names found (2): bar, foo", ex.Message);
    }

    [Fact]
    public void ExplicitPrefixThatDoesNotFit_Throws()
    {
        var d = Dict(Gru.Select(n => "rnn." + n).ToArray());
        var ex = Assert.Throws<InvalidDataException>(() => StateDict.StripPrefix(d, Gru, prefix: "lstm."));
        Assert.Contains("under the module prefix 'lstm.'", ex.Message);
    }
}
