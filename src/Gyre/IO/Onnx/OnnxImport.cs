using Gyre.Cells;
using Google.Protobuf;
using Gyre.Layers;
using Gyre.Tensors;
using Onnx;
using static Gyre.IO.Onnx.OnnxProto;

namespace Gyre.IO.Onnx;

/// <summary>What <see cref="OnnxImport"/> recovers: the recurrent stack as spec + PyTorch-layout state dict
/// (names as in <see cref="RecurrentSpec"/>), plus the head and scalers when the file was written by
/// <see cref="OnnxExport"/>.</summary>
public sealed record OnnxRecurrentModel(RecurrentSpec Spec, IReadOnlyDictionary<string, Tensor> StateDict)
{
    public LinearHead? Head { get; init; }
    public AffineScaler? InputScaler { get; init; }
    public AffineScaler? OutputScaler { get; init; }

    /// <summary>A <see cref="RecurrentLayer"/> running the recurrent stack (see <see cref="RecurrentLayer.FromSpec"/>);
    /// <see cref="Head"/> and the scalers are not part of it.</summary>
    public RecurrentLayer ToLayer(string source = "ONNX model") => RecurrentLayer.FromSpec(Spec, StateDict, source);
}

/// <summary>
/// Reads the ONNX <c>GRU</c> / <c>LSTM</c> nodes of a model back into a <see cref="RecurrentSpec"/> and a
/// PyTorch-layout state dict (gate blocks reordered ONNX z,r,h → r,z,n and i,o,f,c → i,f,g,o;
/// B split into bias_ih ‖ bias_hh).
/// <para>Accepted: linear_before_reset 1 (PyTorch's cell) and 0 (sets <see cref="RecurrentSpec.ResetBefore"/>);
/// direction forward, reverse (sets <see cref="RecurrentSpec.Reverse"/>) and bidirectional; layout 0 and 1;
/// W, R, B from initializers (a missing B means zero biases). The recurrent nodes, in graph order, are the
/// layers; every layer must share kind, direction, hidden size, layout and linear_before_reset, and layer
/// k &gt; 0 must take D·H features.</para>
/// <para>Refused with a one-line <see cref="InvalidDataException"/> naming the file and node: clip,
/// activations other than the defaults, activation_alpha / activation_beta, input_forget ≠ 0, peepholes
/// (LSTM input P), sequence_lens inputs, non-float or external-data weights, and any op outside the
/// plumbing set (Transpose, Reshape, Squeeze, Unsqueeze, Concat, Slice, Split, Gather, Identity, Shape,
/// Cast, Constant) other than the head / scaler nodes that <see cref="OnnxExport"/> writes. Batch-first is
/// taken from the gyre.batch_first metadata when present, else from layout = 1.</para>
/// </summary>
public static class OnnxImport
{
    private static readonly HashSet<string> Plumbing =
        ["Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Slice", "Split", "Gather", "Identity", "Shape", "Cast", "Constant"];

    /// <summary>The ONNX operators of the registered cells (GRU, LSTM).</summary>
    private static HashSet<string> RecurrentOps() => [.. CellRegistry.All.Where(c => c.Onnx != null).Select(c => c.Onnx!.OpType)];

    /// <summary>Reads the model file at <paramref name="path"/>.</summary>
    public static OnnxRecurrentModel Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new IOException($"{path}: cannot read ({e.Message})", e); }
        return Read(bytes, path);
    }

    /// <summary>Reads the model file at <paramref name="path"/> into a ready <see cref="RecurrentLayer"/>
    /// (GRU, reset-before GRU when linear_before_reset = 0, or LSTM; reverse-only for direction "reverse").
    /// A linear head or scalers written by <see cref="OnnxExport"/> are not part of the layer: use
    /// <see cref="Load"/> for those.</summary>
    public static RecurrentLayer LoadLayer(string path) => Load(path).ToLayer(path);

    /// <summary>Reads a serialized model; <paramref name="source"/> names it in error messages.</summary>
    public static OnnxRecurrentModel Read(byte[] bytes, string source)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not an ONNX model or truncated ({OneLine(e.Message)})", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0 || model.IrVersion <= 0)
            throw new InvalidDataException($"{source}: not an ONNX model or truncated (no graph, nodes or IR version)");
        var meta = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var g = model.Graph;
        var init = new Dictionary<string, TensorProto>();
        foreach (var t in g.Initializer) init[t.Name] = t;

        var layers = new List<NodeProto>();
        var ops = RecurrentOps();
        foreach (var n in g.Node)
        {
            string where = $"{source}: node '{n.Name}' (op {n.OpType})";
            if (n.Domain is not ("" or "ai.onnx"))
                throw new InvalidDataException($"{where}: operator domain '{n.Domain}' is not supported");
            if (ops.Contains(n.OpType)) layers.Add(n);
            else if (Plumbing.Contains(n.OpType)) continue;
            else if (n.OpType is "MatMul" or "Add" or "Mul" && IsGyreHeadNode(n, init)) continue;
            else throw new InvalidDataException($"{where}: unsupported op '{n.OpType}'");
        }
        if (layers.Count == 0)
            throw new InvalidDataException($"{source}: no {string.Join(" or ", ops.Order(StringComparer.Ordinal))} node in the graph");

        var candidates = CellRegistry.All.Where(c => c.Onnx?.OpType == layers[0].OpType).ToArray();
        CellDefinition? cell = null;
        string? direction0 = null;
        long layout0 = 0;
        string cellAttrs0 = "";
        int G = 0;
        int H = 0, I = 0;
        bool anyBias = false;
        var w = new Tensor[layers.Count];
        var r = new Tensor[layers.Count];
        var b = new Tensor?[layers.Count];
        for (int k = 0; k < layers.Count; k++)
        {
            var n = layers[k];
            string where = $"{source}: node '{n.Name}' (op {n.OpType})";
            if (n.OpType != layers[0].OpType)
                throw new InvalidDataException($"{where}: mixes {layers[0].OpType} and {n.OpType} layers");
            var (direction, layout, hiddenAttr, match, cellAttrs) = ReadAttributes(n, candidates, where);
            if (k == 0) (direction0, layout0, cell, cellAttrs0) = (direction, layout, match, cellAttrs);
            else if (direction != direction0 || layout != layout0 || match != cell)
                throw new InvalidDataException($"{where}: direction/layout/{cellAttrs} ({direction}/{layout}/{match.Name}) differ from the first layer ({direction0}/{layout0}/{cell!.Name})");

            if (Input(n, 4).Length > 0)
                throw new InvalidDataException($"{where}: input 'sequence_lens' is not supported");
            if (cell!.States > 1 && Input(n, 7).Length > 0)
                throw new InvalidDataException($"{where}: input 'P' (peepholes) is not supported");

            w[k] = Initializer(n, 1, "W", init, source, where);
            r[k] = Initializer(n, 2, "R", init, source, where);
            b[k] = Input(n, 3).Length > 0 ? Initializer(n, 3, "B", init, source, where) : null;
            anyBias |= b[k] is not null;

            int D = direction == "bidirectional" ? 2 : 1;
            G = cell!.Gates;
            if (r[k].Rank != 3 || r[k].Dim(0) != D || r[k].Dim(1) % G != 0 || r[k].Dim(1) / G != r[k].Dim(2))
                throw new InvalidDataException($"{where}: R has shape {Tensor.ShapeString(r[k].Shape)}, expected [{D}, {G}·H, H]");
            int h = r[k].Dim(2);
            if (hiddenAttr is { } ha && ha != h)
                throw new InvalidDataException($"{where}: hidden_size {ha} does not match R {Tensor.ShapeString(r[k].Shape)}");
            if (k == 0) H = h;
            else if (h != H)
                throw new InvalidDataException($"{where}: hidden size {h} differs from the first layer's {H}");
            if (w[k].Rank != 3 || w[k].Dim(0) != D || w[k].Dim(1) != G * H)
                throw new InvalidDataException($"{where}: W has shape {Tensor.ShapeString(w[k].Shape)}, expected [{D}, {G * H}, input]");
            int ik = w[k].Dim(2);
            if (k == 0) I = ik;
            else if (ik != D * H)
                throw new InvalidDataException($"{where}: W takes {ik} input features, expected {D * H} from the layer below");
            if (b[k] is { } bk && !bk.HasShape(D, 2 * G * H))
                throw new InvalidDataException($"{where}: B has shape {Tensor.ShapeString(bk.Shape)}, expected [{D}, {2 * G * H}]");
        }

        bool batchFirst = meta.TryGetValue("gyre.batch_first", out var bf) ? bf == "true" : layout0 == 1;
        var spec = SpecCells.For(cell!, I, H, layers.Count, direction0 == "bidirectional", anyBias, batchFirst) with
        {
            Reverse = direction0 == "reverse",
        };

        var perm = Inverse(cell!.Onnx!.TorchToOnnx);
        G = cell.Gates;
        var dict = new Dictionary<string, Tensor>();
        for (int k = 0; k < layers.Count; k++)
        {
            int ik = spec.LayerInputSize(k);
            for (int d = 0; d < spec.Directions; d++)
            {
                string s = RecurrentSpec.Suffix(d);
                var wih = Tensor.Zeros(G * H, ik);
                PermuteBlocks(wih.Span, w[k].Row(d).ReadOnlySpan, perm, H * ik);
                var whh = Tensor.Zeros(G * H, H);
                PermuteBlocks(whh.Span, r[k].Row(d).ReadOnlySpan, perm, H * H);
                dict[$"weight_ih_l{k}{s}"] = wih;
                dict[$"weight_hh_l{k}{s}"] = whh;
                if (!spec.Bias) continue;
                var bih = Tensor.Zeros(G * H);
                var bhh = Tensor.Zeros(G * H);
                if (b[k] is { } bk)
                {
                    var row = bk.Row(d).ReadOnlySpan;
                    PermuteBlocks(bih.Span, row[..(G * H)], perm, H);
                    PermuteBlocks(bhh.Span, row[(G * H)..], perm, H);
                }
                dict[$"bias_ih_l{k}{s}"] = bih;
                dict[$"bias_hh_l{k}{s}"] = bhh;
            }
        }

        LinearHead? head = null;
        if (init.TryGetValue("head.weight_t", out var hwt))
        {
            var wt = ReadFloat(hwt, source); // [D·H, O]
            if (wt.Rank != 2 || wt.Dim(0) != spec.Directions * H)
                throw new InvalidDataException($"{source}: initializer 'head.weight_t' has shape {Tensor.ShapeString(wt.Shape)}, expected [{spec.Directions * H}, O]");
            int O = wt.Dim(1), F = wt.Dim(0);
            var hw = Tensor.Zeros(O, F);
            for (int o = 0; o < O; o++)
                for (int j = 0; j < F; j++) hw[o, j] = wt[j, o];
            Tensor? hb = init.TryGetValue("head.bias", out var hbt) ? ReadFloat(hbt, source) : null;
            bool all = meta.TryGetValue("gyre.head", out var hm) ? hm == "all" : !g.Node.Any(n => n.Name == "head.last_step");
            head = new LinearHead(hw, hb, all);
        }

        return new OnnxRecurrentModel(spec, dict)
        {
            Head = head,
            InputScaler = Scaler("input_scaler", init, source),
            OutputScaler = Scaler("output_scaler", init, source),
        };
    }

    /// <summary>
    /// The standard attributes of a recurrent node and the registered cell it maps to: every integer attribute a
    /// candidate's mapping names (e.g. linear_before_reset, input_forget; absent = 0, ONNX's default) must equal
    /// that candidate's value, so the attributes pick exactly one cell or the node is unsupported.
    /// </summary>
    private static (string Direction, long Layout, long? HiddenSize, CellDefinition Cell, string CellAttributes) ReadAttributes(
        NodeProto n, CellDefinition[] candidates, string where)
    {
        string direction = "forward";
        long layout = 0;
        long? hidden = null;
        var known = candidates.SelectMany(c => c.Onnx!.KnownAttributes).ToHashSet();
        var ints = new Dictionary<string, long>();
        foreach (var a in n.Attribute)
        {
            if (!known.Contains(a.Name))
                throw new InvalidDataException($"{where}: attribute '{a.Name}' is not supported");
            switch (a.Name)
            {
                case "direction": direction = a.S.ToStringUtf8(); break;
                case "layout": layout = a.I; break;
                case "hidden_size": hidden = a.I; break;
                case "activations":
                    string[] defaults = candidates[0].Onnx!.Activations;
                    var acts = a.Strings.Select(s => s.ToStringUtf8()).ToArray();
                    bool ok = acts.Length % defaults.Length == 0 && acts.Length > 0 &&
                              acts.Select((s, i) => string.Equals(s, defaults[i % defaults.Length], StringComparison.OrdinalIgnoreCase)).All(x => x);
                    if (!ok) throw new InvalidDataException($"{where}: attribute 'activations' = [{string.Join(", ", acts)}] is not supported (only the defaults [{string.Join(", ", defaults)}])");
                    break;
                default: ints[a.Name] = a.I; break;
            }
        }
        if (direction is not ("forward" or "reverse" or "bidirectional"))
            throw new InvalidDataException($"{where}: attribute 'direction' = '{direction}' is not valid");
        if (layout is not (0 or 1))
            throw new InvalidDataException($"{where}: attribute 'layout' = {layout} is not valid");
        var identifying = known.Except(["direction", "layout", "hidden_size", "activations"]).Order(StringComparer.Ordinal).ToArray();
        long Value(string name) => ints.TryGetValue(name, out var v) ? v : 0;
        var match = candidates.FirstOrDefault(c => identifying.All(name => Value(name) == (c.Onnx!.Attributes.TryGetValue(name, out var want) ? want : 0)));
        if (match is null)
        {
            var bad = identifying.FirstOrDefault(name => ints.ContainsKey(name)) ?? identifying.FirstOrDefault() ?? "?";
            throw new InvalidDataException($"{where}: attribute '{bad}' = {Value(bad)} is not supported");
        }
        return (direction, layout, hidden, match, string.Join("/", identifying));
    }

    private static int[] Inverse(int[] perm)
    {
        var inv = new int[perm.Length];
        for (int j = 0; j < perm.Length; j++) inv[perm[j]] = j;
        return inv;
    }

    private static string Input(NodeProto n, int index) => index < n.Input.Count ? n.Input[index] : "";

    private static Tensor Initializer(NodeProto n, int index, string role, Dictionary<string, TensorProto> init, string source, string where)
    {
        string name = Input(n, index);
        if (name.Length == 0) throw new InvalidDataException($"{where}: input '{role}' is missing");
        if (!init.TryGetValue(name, out var t))
            throw new InvalidDataException($"{where}: input '{role}' ('{name}') is not an initializer");
        return ReadFloat(t, source);
    }

    // The MatMul / Add / Mul nodes OnnxExport writes for the head and scalers: named by their prefix and
    // reading the matching initializer; anything else is a computation this importer would drop.
    private static bool IsGyreHeadNode(NodeProto n, Dictionary<string, TensorProto> init)
    {
        string[] prefixes = ["head.", "input_scaler.", "output_scaler."];
        var prefix = prefixes.FirstOrDefault(p => n.Name.StartsWith(p, StringComparison.Ordinal));
        return prefix is not null && n.Input.Any(i => i.StartsWith(prefix, StringComparison.Ordinal) && init.ContainsKey(i));
    }

    private static AffineScaler? Scaler(string prefix, Dictionary<string, TensorProto> init, string source)
    {
        bool hasScale = init.TryGetValue($"{prefix}.scale", out var s), hasShift = init.TryGetValue($"{prefix}.shift", out var t);
        if (!hasScale && !hasShift) return null;
        if (!hasScale || !hasShift)
            throw new InvalidDataException($"{source}: {prefix} needs both '{prefix}.scale' and '{prefix}.shift' initializers");
        return new AffineScaler(ReadFloat(s!, source), ReadFloat(t!, source));
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
