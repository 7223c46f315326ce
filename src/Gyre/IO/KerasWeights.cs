using Gyre.Cells;
using System.Text.RegularExpressions;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.IO;

/// <summary>Keras weights turned into a PyTorch-layout stack; <see cref="Ignored"/> lists tensors that
/// belong to no recurrent layer (Dense heads, optimizer slots, ...).</summary>
public sealed record KerasConversion(RecurrentSpec Spec, IReadOnlyDictionary<string, Tensor> StateDict, IReadOnlyList<string> Ignored);

/// <summary>
/// Converts Keras GRU / LSTM weights (e.g. read from a safetensors file) to PyTorch layout.
/// Letters: I input size, U units (= H), G gates.
/// <para>GRU: <c>kernel</c> [I, 3U], <c>recurrent_kernel</c> [U, 3U], gate columns z, r, h.
/// reset_after = True (Keras 2.x/3 default, cuDNN-compatible): <c>bias</c> [2, 3U], row 0 input bias,
/// row 1 recurrent bias; the cell is PyTorch's. reset_after = False: <c>bias</c> [3U] (input side only),
/// h̃ = tanh(x W_h + b_h + (r ⊙ h) U_h), which is <see cref="RecurrentSpec.ResetBefore"/> with bias_hh = 0.
/// weight_ih = kernelᵀ and weight_hh = recurrent_kernelᵀ with row blocks reordered z,r,h → r,z,n.</para>
/// <para>LSTM: <c>kernel</c> [I, 4U], <c>recurrent_kernel</c> [U, 4U], <c>bias</c> [4U], gate order
/// i, f, c, o, which is PyTorch's i, f, g, o; weights are transposed, bias_ih = bias, bias_hh = 0.</para>
/// <para>Accepted names (an optional TensorFlow ":0" suffix is dropped; '/' and '.' both separate):
/// <c>&lt;prefix&gt;/kernel</c>, <c>&lt;prefix&gt;/recurrent_kernel</c>, <c>&lt;prefix&gt;/bias</c>
/// (e.g. "gru/gru_cell/kernel:0", "sequential/lstm/lstm_cell/recurrent_kernel", "layer.kernel",
/// "rnn.cell.bias"), and Keras 3's variable lists <c>&lt;prefix&gt;/vars/0|1|2</c> (kernel,
/// recurrent_kernel, bias). Tensors sharing a prefix form one layer; a group is a recurrent layer when
/// its recurrent kernel is [U, 3U] (GRU) or [U, 4U] (LSTM), other groups are ignored and listed.
/// A prefix segment starting with "forward_" / "backward_" (Keras <c>Bidirectional</c>: forward_gru,
/// backward_lstm, forward_layer) marks the direction; the two halves form one bidirectional layer.
/// Layers are stacked in natural order of their prefixes ("gru" &lt; "gru_1" &lt; "gru_2" &lt; "gru_10").</para>
/// <para>A GRU without a bias tensor cannot show which variant it is: <c>gruResetAfter</c>
/// of <see cref="Convert"/> decides (Keras' default, true, when null).</para>
/// </summary>
public static class KerasWeights
{
    private static readonly int[] GruKerasToTorch = [1, 0, 2]; // torch block j (r, z, n) = Keras block perm[j] (z, r, h)
    private static readonly int[] LstmKerasToTorch = [0, 1, 2, 3];

    /// <summary>One Keras GRU cell to PyTorch layout. <paramref name="bias"/> [2, 3U] means reset_after = True,
    /// [3U] means reset_after = False (returned ResetBefore = true, BiasHh = 0); null means no bias (zeros),
    /// with the variant taken from <paramref name="resetAfterIfNoBias"/>.</summary>
    public static (Tensor WeightIh, Tensor WeightHh, Tensor BiasIh, Tensor BiasHh, bool ResetBefore) ConvertGruCell(
        Tensor kernel, Tensor recurrentKernel, Tensor? bias, string name, bool resetAfterIfNoBias = true)
    {
        var (wih, whh, U) = ConvertKernels(kernel, recurrentKernel, 3, GruKerasToTorch, name);
        var bih = Tensor.Zeros(3 * U);
        var bhh = Tensor.Zeros(3 * U);
        bool resetBefore = !resetAfterIfNoBias;
        if (bias is not null)
        {
            if (bias.HasShape(2, 3 * U))
            {
                ReorderVector(bih.Span, bias.Row(0).ReadOnlySpan, GruKerasToTorch, U);
                ReorderVector(bhh.Span, bias.Row(1).ReadOnlySpan, GruKerasToTorch, U);
                resetBefore = false;
            }
            else if (bias.HasShape(3 * U))
            {
                ReorderVector(bih.Span, bias.ReadOnlySpan, GruKerasToTorch, U);
                resetBefore = true;
            }
            else throw new InvalidDataException($"{name}: GRU bias has shape {Tensor.ShapeString(bias.Shape)}, expected [2, {3 * U}] (reset_after=True) or [{3 * U}] (reset_after=False)");
        }
        return (wih, whh, bih, bhh, resetBefore);
    }

    /// <summary>One Keras LSTM cell to PyTorch layout: bias_ih = bias (or zeros when null), bias_hh = 0.</summary>
    public static (Tensor WeightIh, Tensor WeightHh, Tensor BiasIh, Tensor BiasHh) ConvertLstmCell(
        Tensor kernel, Tensor recurrentKernel, Tensor? bias, string name)
    {
        var (wih, whh, U) = ConvertKernels(kernel, recurrentKernel, 4, LstmKerasToTorch, name);
        var bih = Tensor.Zeros(4 * U);
        if (bias is not null)
        {
            if (!bias.HasShape(4 * U))
                throw new InvalidDataException($"{name}: LSTM bias has shape {Tensor.ShapeString(bias.Shape)}, expected [{4 * U}]");
            bias.ReadOnlySpan.CopyTo(bih.Span);
        }
        return (wih, whh, bih, Tensor.Zeros(4 * U));
    }

    /// <summary>Converts every recurrent layer found in <paramref name="weights"/> (names as in the class
    /// summary) into one stack. <paramref name="source"/> names the file in errors.</summary>
    public static KerasConversion Convert(IReadOnlyDictionary<string, Tensor> weights, string source, bool batchFirst = true, bool? gruResetAfter = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        // prefix -> role -> (name, tensor)
        var groups = new Dictionary<string, Dictionary<string, (string Name, Tensor Tensor)>>();
        var ignored = new List<string>();
        foreach (var (name, tensor) in weights)
        {
            if (!TryParseName(name, out var prefix, out var role)) { ignored.Add(name); continue; }
            if (!groups.TryGetValue(prefix, out var g)) groups[prefix] = g = [];
            if (g.ContainsKey(role))
                throw new InvalidDataException($"{source}: tensors '{g[role].Name}' and '{name}' are both the {role} of '{prefix}'");
            g[role] = (name, tensor);
        }

        // layer key (prefix with the direction segment blanked) -> [forward, backward] groups
        var layers = new Dictionary<string, (string Prefix, Dictionary<string, (string Name, Tensor Tensor)> G)?[]>();
        foreach (var (prefix, g) in groups)
        {
            if (!g.TryGetValue("recurrent_kernel", out var rk) || !IsRecurrentKernel(rk.Tensor))
            {
                ignored.AddRange(g.Values.Select(v => v.Name));
                continue;
            }
            if (!g.ContainsKey("kernel"))
                throw new InvalidDataException($"{source}: '{rk.Name}' has no matching kernel tensor under '{prefix}'");
            var segments = prefix.Split('/');
            int dirAt = Array.FindIndex(segments, s => s.StartsWith("forward_", StringComparison.Ordinal) || s.StartsWith("backward_", StringComparison.Ordinal));
            int dir = dirAt >= 0 && segments[dirAt].StartsWith("backward_", StringComparison.Ordinal) ? 1 : 0;
            if (dirAt >= 0) segments[dirAt] = "*";
            string key = string.Join('/', segments);
            if (!layers.TryGetValue(key, out var slots)) layers[key] = slots = new (string, Dictionary<string, (string, Tensor)>)?[2];
            if (slots[dir] is not null)
                throw new InvalidDataException($"{source}: '{prefix}' and '{slots[dir]!.Value.Prefix}' are the same direction of layer '{key}'");
            slots[dir] = (prefix, g);
        }
        if (layers.Count == 0)
            throw new InvalidDataException($"{source}: no Keras GRU/LSTM weights found (expected names like 'gru/gru_cell/recurrent_kernel')");

        var order = layers.Keys.OrderBy(k => k, NaturalComparer.Instance).ToList();
        var dict = new Dictionary<string, Tensor>();
        RecurrentSpec? spec = null;
        for (int k = 0; k < order.Count; k++)
        {
            var slots = layers[order[k]];
            if (slots[0] is null)
                throw new InvalidDataException($"{source}: layer '{order[k]}' has a backward_ half but no forward_ half");
            int D = slots[1] is null ? 1 : 2;
            for (int d = 0; d < D; d++)
            {
                var (prefix, g) = slots[d]!.Value;
                var kernel = g["kernel"];
                var rk = g["recurrent_kernel"].Tensor;
                g.TryGetValue("bias", out var bias);
                int U = rk.Dim(0);
                int gates = rk.Dim(1) / U;   // 3: a Keras GRU layer, 4: a Keras LSTM layer (IsRecurrentKernel)
                Tensor wih, whh, bih, bhh;
                bool resetBefore = false;
                if (gates == 3)
                    (wih, whh, bih, bhh, resetBefore) = ConvertGruCell(kernel.Tensor, rk, bias.Tensor, $"{source}: {prefix}", gruResetAfter ?? true);
                else
                    (wih, whh, bih, bhh) = ConvertLstmCell(kernel.Tensor, rk, bias.Tensor, $"{source}: {prefix}");
                var here = SpecCells.For(CellFor(gates, resetBefore), kernel.Tensor.Dim(0), U, k + 1, D == 2, bias.Tensor is not null, batchFirst);
                if (spec is null) spec = here;
                else
                {
                    int expectedInput = k == 0 ? spec.InputSize : spec.Directions * spec.HiddenSize;
                    if (here.InputSize != expectedInput)
                        throw new InvalidDataException($"{source}: kernel '{kernel.Name}' has shape {Tensor.ShapeString(kernel.Tensor.Shape)}, expected [{expectedInput}, {here.Gates * U}]");
                    if (here with { InputSize = spec.InputSize } != spec with { NumLayers = k + 1 })
                        throw new InvalidDataException($"{source}: layer '{prefix}' ({here.KindName}, {U} units, {D} direction(s), bias {here.Bias}, reset-before {resetBefore}) does not match the first layer ({spec.KindName}, {spec.HiddenSize} units, {spec.Directions} direction(s), bias {spec.Bias}, reset-before {spec.ResetBefore})");
                }
                string s = RecurrentSpec.Suffix(d);
                dict[$"weight_ih_l{k}{s}"] = wih;
                dict[$"weight_hh_l{k}{s}"] = whh;
                if (here.Bias)
                {
                    dict[$"bias_ih_l{k}{s}"] = bih;
                    dict[$"bias_hh_l{k}{s}"] = bhh;
                }
            }
        }
        var final = spec! with { NumLayers = order.Count };
        final.Validate(dict, source);
        ignored.Sort(StringComparer.Ordinal);
        return new KerasConversion(final, dict, ignored);
    }

    /// <summary>
    /// Reads a safetensors file of Keras weights (names as in the class summary, e.g. written with
    /// <c>{w.path: w.numpy() for w in model.weights}</c>) and returns a ready <see cref="RecurrentLayer"/>:
    /// GRU (reset_after = True), reset-before GRU (reset_after = False) or LSTM, bidirectional for Keras
    /// <c>Bidirectional</c> wrappers. Tensors of other layers are ignored; use <see cref="Convert"/> to see them.
    /// </summary>
    public static RecurrentLayer Load(string path, bool batchFirst = true, bool? gruResetAfter = null)
    {
        var file = Safetensors.Read(path);
        var c = Convert(file.Tensors, path, batchFirst, gruResetAfter);
        return RecurrentLayer.FromSpec(c.Spec, c.StateDict, path);
    }

    /// <summary>Keras' GRU and LSTM layers are ONNX's GRU and LSTM operators (reset_after = linear_before_reset):
    /// the registered cell with that gate count and ONNX mapping.</summary>
    private static CellDefinition CellFor(int gates, bool resetBefore) => CellRegistry.All.Single(c =>
        c.Onnx is { } o && c.Gates == gates &&
        (o.Attributes.TryGetValue("linear_before_reset", out long lbr) ? lbr == (resetBefore ? 0 : 1) : !resetBefore));

    private static bool IsRecurrentKernel(Tensor t) =>
        t.Rank == 2 && t.Dim(0) > 0 && (t.Dim(1) == 3 * t.Dim(0) || t.Dim(1) == 4 * t.Dim(0));

    private static readonly Regex Separator = new("[/.]", RegexOptions.CultureInvariant);

    /// <summary>Splits "a/b/kernel:0" into prefix "a/b" and role "kernel"; "a/vars/1" into "a", "recurrent_kernel".</summary>
    internal static bool TryParseName(string name, out string prefix, out string role)
    {
        string n = name.EndsWith(":0", StringComparison.Ordinal) ? name[..^2] : name;
        var parts = Separator.Split(n);
        prefix = role = "";
        if (parts.Length < 2) return false;
        string last = parts[^1];
        if (parts.Length >= 3 && parts[^2] == "vars" && last is "0" or "1" or "2")
        {
            role = last switch { "0" => "kernel", "1" => "recurrent_kernel", _ => "bias" };
            prefix = string.Join('/', parts[..^2]);
            return true;
        }
        if (last is not ("kernel" or "recurrent_kernel" or "bias")) return false;
        role = last;
        prefix = string.Join('/', parts[..^1]);
        return true;
    }

    // kernel [I, G·U] -> weight_ih [G·U, I]; recurrent_kernel [U, G·U] -> weight_hh [G·U, U]; row block j of
    // the result is column block perm[j] of the Keras matrix.
    private static (Tensor WeightIh, Tensor WeightHh, int U) ConvertKernels(Tensor kernel, Tensor recurrentKernel, int G, int[] perm, string name)
    {
        if (recurrentKernel.Rank != 2 || recurrentKernel.Dim(1) != G * recurrentKernel.Dim(0))
            throw new InvalidDataException($"{name}: recurrent_kernel has shape {Tensor.ShapeString(recurrentKernel.Shape)}, expected [U, {G}·U]");
        int U = recurrentKernel.Dim(0);
        if (kernel.Rank != 2 || kernel.Dim(1) != G * U)
            throw new InvalidDataException($"{name}: kernel has shape {Tensor.ShapeString(kernel.Shape)}, expected [input, {G * U}]");
        return (TransposeBlocks(kernel, G, U, perm), TransposeBlocks(recurrentKernel, G, U, perm), U);
    }

    private static Tensor TransposeBlocks(Tensor m, int G, int U, int[] perm)
    {
        int rows = m.Dim(0);
        var result = Tensor.Zeros(G * U, rows);
        var src = m.ReadOnlySpan;
        var dst = result.Span;
        for (int j = 0; j < G; j++)
            for (int u = 0; u < U; u++)
                for (int i = 0; i < rows; i++)
                    dst[(j * U + u) * rows + i] = src[i * G * U + perm[j] * U + u];
        return result;
    }

    private static void ReorderVector(Span<float> dst, ReadOnlySpan<float> src, int[] perm, int U)
    {
        for (int j = 0; j < perm.Length; j++) src.Slice(perm[j] * U, U).CopyTo(dst.Slice(j * U, U));
    }

    /// <summary>Orders "gru" &lt; "gru_1" &lt; "gru_2" &lt; "gru_10": digit runs compare as numbers.</summary>
    private sealed class NaturalComparer : IComparer<string>
    {
        public static readonly NaturalComparer Instance = new();

        public int Compare(string? a, string? b)
        {
            a ??= "";
            b ??= "";
            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
                {
                    int si = i, sj = j;
                    while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                    while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                    var na = a.AsSpan(si, i - si).TrimStart('0');
                    var nb = b.AsSpan(sj, j - sj).TrimStart('0');
                    int c = na.Length != nb.Length ? na.Length.CompareTo(nb.Length) : na.SequenceCompareTo(nb);
                    if (c != 0) return c;
                }
                else
                {
                    int c = a[i].CompareTo(b[j]);
                    if (c != 0) return c;
                    i++;
                    j++;
                }
            }
            return (a.Length - i).CompareTo(b.Length - j);
        }
    }
}
