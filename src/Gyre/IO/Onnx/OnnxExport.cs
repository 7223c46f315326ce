using Gyre.Cells;
using Google.Protobuf;
using Gyre.Layers;
using Gyre.Tensors;
using Onnx;
using static Gyre.IO.Onnx.OnnxProto;

namespace Gyre.IO.Onnx;

/// <summary>A linear read-out after the recurrent stack: prediction = y · Weightᵀ + Bias.</summary>
/// <param name="Weight">[O, D·H].</param>
/// <param name="Bias">[O], or null for none.</param>
/// <param name="AllSteps">False: applied to the last time step only, y[:, T−1, :] (for a bidirectional
/// stack that is forward ‖ reverse at t = T−1, as PyTorch's <c>y[:, -1]</c>), giving [B, O]. True: applied
/// to every step, giving [B, T, O] (or [T, B, O] when not batch-first).</param>
public sealed record LinearHead(Tensor Weight, Tensor? Bias, bool AllSteps = false);

/// <summary>A gated memory unit after the recurrent stack (<see cref="Layers.GatedMemoryUnit"/>):
/// z' = σ(z · Weightᵀ + Bias) ⊙ m, Weight [D_m, D_x], Bias [D_m].</summary>
public sealed record MemoryUnitExport(Tensor Weight, Tensor Bias);

/// <summary>Per-feature affine map v' = v ⊙ Scale + Shift (both [F]); a standard scaler with mean μ and
/// deviation σ is Scale = 1/σ, Shift = −μ/σ, and its inverse Scale = σ, Shift = μ.</summary>
public sealed record AffineScaler(Tensor Scale, Tensor Shift);

/// <summary>Options of <see cref="OnnxExport"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>ONNX opset of the default domain: 14 (IR version 7) or 22 (IR version 10).</summary>
    public int Opset { get; init; } = 14;

    /// <summary>True: graph inputs <c>h0</c> (and <c>c0</c> for LSTM) [L·D, batch, H], required at run time.
    /// False: no such inputs; every layer starts from zero states.</summary>
    public bool InitialStateInputs { get; init; }

    /// <summary>Optional linear head after the last layer; adds output <c>prediction</c>.</summary>
    public LinearHead? Head { get; init; }

    /// <summary>Optional scaler applied to <c>x</c> before the first layer ([I]).</summary>
    public AffineScaler? InputScaler { get; init; }

    /// <summary>Optional scaler applied to the head's output ([O]); needs <see cref="Head"/>.</summary>
    public AffineScaler? OutputScaler { get; init; }

    /// <summary>Exports even GRU/LSTM/RNN as a Scan over the cell's step instead of their native ONNX node (for
    /// runtimes without those operators, and to test the Scan export on cells with a reference).</summary>
    public bool ForceScan { get; init; }

    /// <summary>Gated memory units applied in order after the last recurrent layer (empty: none); <c>y</c> is then
    /// the last unit's output. Each is MatMul + Add + Sigmoid + Mul with m = the output of <see cref="MemoryLayer"/>.</summary>
    public IReadOnlyList<MemoryUnitExport> MemoryUnits { get; init; } = [];

    /// <summary>The recurrent layer (0-based) whose output the memory units read as m.</summary>
    public int MemoryLayer { get; init; }

    /// <summary>Model-level doc string; a description of the graph is used when null.</summary>
    public string? DocString { get; init; }
}

/// <summary>
/// Writes a recurrent stack (PyTorch-layout state dict + <see cref="RecurrentSpec"/>) as an ONNX model.
/// <para>Graph: inputs <c>x</c> ([batch, seq, I] if batch-first, else [seq, batch, I]) and, optionally,
/// <c>h0</c> / <c>c0</c> [L·D, batch, H]; outputs <c>y</c> (same layout as x, D·H features, forward ‖
/// reverse), <c>h_n</c> (and <c>c_n</c>) [L·D, batch, H], and <c>prediction</c> when a head is given.
/// "batch" and "seq" are symbolic dimensions.</para>
/// <para>One ONNX <c>GRU</c> (linear_before_reset = 1, PyTorch's reset-after cell) or <c>LSTM</c> node per
/// layer, direction "forward" or "bidirectional" ("reverse" when <see cref="RecurrentSpec.Reverse"/>).
/// Layout 0 ([seq, batch, ·]) with Transpose nodes around it is used rather than layout = 1 because
/// ONNX Runtime's CPU GRU/LSTM kernels reject layout = 1 (checked against ORT 1.31.1 in the tests).
/// Weights W [D, G·H, I_k], R [D, G·H, H] have their gate blocks reordered (GRU r,z,n → z,r,h; LSTM
/// i,f,g,o → i,o,f,c) and B [D, 2·G·H] = [bias_ih ‖ bias_hh]. Between layers Y [seq, D, batch, H] becomes
/// [seq, batch, D·H] by Transpose(0, 2, 1, 3) + Reshape(0, 0, −1).</para>
/// <para>Metadata props record gyre.kind, gyre.batch_first, gyre.reverse and gyre.head (none | last |
/// all) so <see cref="OnnxImport"/> can rebuild the spec exactly.</para>
/// </summary>
public static class OnnxExport
{
    /// <summary>Builds the model and writes it to <paramref name="path"/> atomically (temporary file in the
    /// same folder, then rename), so a reader never sees a half-written model.</summary>
    public static void Save(string path, RecurrentSpec spec, IReadOnlyDictionary<string, Tensor> stateDict, OnnxExportOptions? options = null)
    {
        WriteAtomically(path, ToBytes(spec, stateDict, options));
    }

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    internal static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Exports <paramref name="layer"/> (its <see cref="RecurrentLayer.ToSpec"/> and current weights);
    /// see <see cref="Save(string, RecurrentSpec, IReadOnlyDictionary{string, Tensor}, OnnxExportOptions?)"/>.
    /// GRU, reset-before GRU and LSTM layers; Elman RNN layers throw <see cref="NotSupportedException"/>.</summary>
    public static void Save(string path, RecurrentLayer layer, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Save(path, layer.ToSpec(), layer.StateDict(), options);
    }

    /// <summary>The serialized ModelProto of <paramref name="layer"/> (see <see cref="Save(string, RecurrentLayer, OnnxExportOptions?)"/>).</summary>
    public static byte[] ToBytes(RecurrentLayer layer, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return ToBytes(layer.ToSpec(), layer.StateDict(), options);
    }

    /// <summary>The serialized ModelProto (see <see cref="Save(string, RecurrentSpec, IReadOnlyDictionary{string, Tensor}, OnnxExportOptions?)"/>).</summary>
    public static byte[] ToBytes(RecurrentSpec spec, IReadOnlyDictionary<string, Tensor> stateDict, OnnxExportOptions? options = null) =>
        Build(spec, stateDict, options).ToByteArray();

    internal static ModelProto Build(RecurrentSpec spec, IReadOnlyDictionary<string, Tensor> stateDict, OnnxExportOptions? options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new OnnxExportOptions();
        const string src = "ONNX export";
        spec.Validate(stateDict, src);
        if (options.Opset is not (14 or 22))
            throw new ArgumentException($"{src}: opset {options.Opset} is not supported (use 14 or 22)");

        int H = spec.HiddenSize, D = spec.Directions, L = spec.NumLayers, G = spec.Gates, I = spec.InputSize;
        var cell = spec.Cell();
        // A cell with a native operator (GRU, LSTM, RNN) becomes that node; any other cell a Scan over its step.
        var onnx = options.ForceScan ? null : cell.Onnx;
        if (onnx != null && cell.States > 2) throw new NotSupportedException($"{src}: cell {cell.Name} carries {cell.States} states; ONNX's recurrent operators carry at most two");
        bool lstm = cell.States > 1;   // the second state is ONNX's cell state (initial_c, Y_c)
        var stateNames = cell.StateNames;
        // W_j: each state's width (H unless the cell narrows it, e.g. lstm(proj_size=P)); h's is the output's.
        var W = Enumerable.Range(0, cell.States).Select(j => cell.StateWidth(j, H)).ToArray();
        int W0 = W[0];
        var names = new ExportNames();
        var g = new GraphProto { Name = $"gyre_{spec.KindName}" };
        string seqDim = "seq", batchDim = "batch";
        object[] xDims = spec.BatchFirst ? [batchDim, seqDim, I] : [seqDim, batchDim, I];
        string layoutDoc = spec.BatchFirst ? "[batch, seq, features]" : "[seq, batch, features]";

        g.Input.Add(FloatValue("x", $"input sequences {layoutDoc}, {I} features", xDims));
        if (options.InitialStateInputs)
        {
            g.Input.Add(FloatValue("h0", $"initial hidden states [layers·directions = {L * D}, batch, {W0}], index = layer·{D} + direction", L * D, batchDim, W0));
            if (onnx != null && lstm) g.Input.Add(FloatValue("c0", $"initial cell states [layers·directions = {L * D}, batch, {H}]", L * D, batchDim, H));
            if (onnx == null)
                for (int j = 1; j < stateNames.Count; j++)
                    g.Input.Add(FloatValue($"{stateNames[j]}0", $"initial {stateNames[j]} states [layers·directions = {L * D}, batch, {W[j]}]", L * D, batchDim, W[j]));
        }

        string cur = "x";
        if (options.InputScaler is { } inScale)
            cur = AddScaler(g, cur, "input_scaler", inScale, I, src);
        if (spec.BatchFirst)
        {
            g.Node.Add(Node("Transpose", "x_to_time_major", [cur], ["x_tbi"], Ints("perm", 1, 0, 2)));
            cur = "x_tbi"; // [T, B, I]
        }

        string direction = spec.Bidirectional ? "bidirectional" : spec.Reverse ? "reverse" : "forward";
        var yh = new List<string>();
        var yc = new List<string>();
        var finals = Enumerable.Range(0, cell.States).Select(_ => new List<string>()).ToArray();
        if (onnx == null) g.Initializer.Add(Int64Tensor(names.Axes0, [0], 1));
        var gmus = options.MemoryUnits;
        if (gmus.Count > 0 && (options.MemoryLayer < 0 || options.MemoryLayer >= L))
            throw new ArgumentException($"{src}: memory layer {options.MemoryLayer} is outside 0..{L - 1}");
        // Without memory units the last layer writes y itself when time-major; with them y comes after the units.
        bool lastIsY = !spec.BatchFirst && gmus.Count == 0;
        var layerOutputs = new List<string>();   // [T, B, D·W_0] per layer
        for (int k = 0; k < L; k++)
        {
            if (onnx == null)
            {
                string scanned = (k == L - 1 && lastIsY) ? "y" : $"{cell.Name}_l{k}.out";
                int layer = k;
                string timeMajor = cur;
                OnnxScanExport.Layer(g, names, spec, cell, stateDict, k, cur, scanned,
                    (d, j) => options.InitialStateInputs ? InitialState(g, names, j == 0 ? "h0" : $"{stateNames[j]}0", layer * D + d)
                        : OnnxScanExport.ZeroState(g, names, timeMajor, W[j]),
                    finals, src);
                cur = scanned;
                layerOutputs.Add(cur);
                continue;
            }
            int ik = spec.LayerInputSize(k);
            string p = $"{spec.KindName}_l{k}";
            var perm = onnx.TorchToOnnx;
            var w = new float[D * G * H * ik];       // [D, G·H, I_k]
            var r = new float[D * G * H * H];        // [D, G·H, H]
            var b = new float[D * 2 * G * H];        // [D, 2·G·H]
            for (int d = 0; d < D; d++)
            {
                string s = RecurrentSpec.Suffix(d);
                PermuteBlocks(w.AsSpan(d * G * H * ik, G * H * ik), stateDict[$"weight_ih_l{k}{s}"].ReadOnlySpan, perm, H * ik);
                PermuteBlocks(r.AsSpan(d * G * H * H, G * H * H), stateDict[$"weight_hh_l{k}{s}"].ReadOnlySpan, perm, H * H);
                if (spec.Bias)
                {
                    PermuteBlocks(b.AsSpan(d * 2 * G * H, G * H), stateDict[$"bias_ih_l{k}{s}"].ReadOnlySpan, perm, H);
                    PermuteBlocks(b.AsSpan(d * 2 * G * H + G * H, G * H), stateDict[$"bias_hh_l{k}{s}"].ReadOnlySpan, perm, H);
                }
            }
            g.Initializer.Add(FloatTensor($"{p}.W", w, D, G * H, ik));
            g.Initializer.Add(FloatTensor($"{p}.R", r, D, G * H, H));
            if (spec.Bias) g.Initializer.Add(FloatTensor($"{p}.B", b, D, 2 * G * H));

            string h0 = "", c0 = "";
            if (options.InitialStateInputs)
            {
                h0 = StateSlice(g, "h0", k, D, L);
                if (lstm) c0 = StateSlice(g, "c0", k, D, L);
            }
            var inputs = new List<string> { cur, $"{p}.W", $"{p}.R", spec.Bias ? $"{p}.B" : "", "", h0 };
            if (lstm) inputs.Add(c0);
            while (inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);

            string yhName = L == 1 ? "h_n" : $"{p}.Y_h";
            string ycName = L == 1 ? "c_n" : $"{p}.Y_c";
            var outputs = new List<string> { $"{p}.Y", yhName };
            if (lstm) outputs.Add(ycName);
            var attrs = new List<AttributeProto> { String("direction", direction), Int("hidden_size", H) };
            foreach (var (name, value) in onnx.Attributes) attrs.Add(Int(name, value));
            var node = Node(onnx.OpType, p, inputs, outputs, [.. attrs]);
            node.DocString = $"layer {k}: PyTorch weight_ih_l{k}/weight_hh_l{k}/bias_*_l{k} with gates reordered to ONNX order";
            g.Node.Add(node);
            yh.Add(yhName);
            yc.Add(ycName);

            // [T, D, B, H] -> [T, B, D, H] -> [T, B, D·H]
            g.Node.Add(Node("Transpose", $"{p}.merge_directions_t", [$"{p}.Y"], [$"{p}.Y_tbdh"], Ints("perm", 0, 2, 1, 3)));
            string merged = (k == L - 1 && lastIsY) ? "y" : $"{p}.out";
            g.Node.Add(Node("Reshape", $"{p}.merge_directions", [$"{p}.Y_tbdh", "shape_t_b_minus1"], [merged]));
            cur = merged;
            layerOutputs.Add(cur);
        }
        g.Initializer.Add(Int64Tensor("shape_t_b_minus1", [0, 0, -1], 3));

        for (int u = 0; u < gmus.Count; u++)
        {
            // z' = σ(z·Wᵀ + b) ⊙ m on [T, B, ·]; W stored transposed ([D_x, D_m]) so MatMul needs no Transpose.
            var (gw, gb) = (gmus[u].Weight, gmus[u].Bias);
            int dm = gw.Dim(0), dx = gw.Dim(1);
            if (dx != D * W0 || dm != D * W0 || !gb.HasShape(dm))
                throw new ArgumentException($"{src}: memory unit {u} has weight {Tensor.ShapeString(gw.Shape)} and bias {Tensor.ShapeString(gb.Shape)}, expected [{D * W0}, {D * W0}] and [{D * W0}]");
            var wt = new float[dx * dm];
            var src2 = gw.ReadOnlySpan;
            for (int o = 0; o < dm; o++)
                for (int j = 0; j < dx; j++) wt[j * dm + o] = src2[o * dx + j];
            string q = $"gmu{u}";
            g.Initializer.Add(FloatTensor($"{q}.weight_t", wt, dx, dm));
            g.Initializer.Add(FloatTensor($"{q}.bias", gb.ReadOnlySpan, dm));
            g.Node.Add(Node("MatMul", $"{q}.matmul", [cur, $"{q}.weight_t"], [$"{q}.mm"]));
            g.Node.Add(Node("Add", $"{q}.add_bias", [$"{q}.mm", $"{q}.bias"], [$"{q}.a"]));
            g.Node.Add(Node("Sigmoid", $"{q}.gate", [$"{q}.a"], [$"{q}.g"]));
            string outName = u == gmus.Count - 1 && !spec.BatchFirst ? "y" : $"{q}.out";
            g.Node.Add(Node("Mul", $"{q}.gate_memory", [$"{q}.g", layerOutputs[options.MemoryLayer]], [outName]));
            cur = outName;
        }

        string yTimeMajor = cur; // [T, B, D·H]
        if (spec.BatchFirst)
            g.Node.Add(Node("Transpose", "y_to_batch_major", [yTimeMajor], ["y"], Ints("perm", 1, 0, 2)));
        if (onnx == null)
            for (int j = 0; j < cell.States; j++)
                g.Node.Add(finals[j].Count == 1 ? Node("Identity", $"final_{stateNames[j]}", finals[j], [$"{stateNames[j]}_n"])
                    : Node("Concat", $"final_{stateNames[j]}", finals[j], [$"{stateNames[j]}_n"], Int("axis", 0)));
        else if (L > 1)
        {
            g.Node.Add(Node("Concat", "concat_h_n", yh, ["h_n"], Int("axis", 0)));
            if (lstm) g.Node.Add(Node("Concat", "concat_c_n", yc, ["c_n"], Int("axis", 0)));
        }

        object[] yDims = spec.BatchFirst ? [batchDim, seqDim, D * W0] : [seqDim, batchDim, D * W0];
        g.Output.Add(FloatValue("y", $"last layer's output {layoutDoc}, {D * W0} features (forward ‖ reverse)", yDims));
        g.Output.Add(FloatValue("h_n", $"final hidden states [{L * D}, batch, {W0}], index = layer·{D} + direction", L * D, batchDim, W0));
        if (onnx != null && lstm) g.Output.Add(FloatValue("c_n", $"final cell states [{L * D}, batch, {H}]", L * D, batchDim, H));
        if (onnx == null)
            for (int j = 1; j < cell.States; j++)
                g.Output.Add(FloatValue($"{stateNames[j]}_n", $"final {stateNames[j]} states [{L * D}, batch, {W[j]}]", L * D, batchDim, W[j]));

        string headMode = "none";
        if (options.Head is { } head)
        {
            headMode = head.AllSteps ? "all" : "last";
            int O = head.Weight.Rank == 2 ? head.Weight.Dim(0) : -1;
            if (O <= 0 || !head.Weight.HasShape(O, D * W0))
                throw new ArgumentException($"{src}: head weight has shape {Tensor.ShapeString(head.Weight.Shape)}, expected [O, {D * W0}]");
            if (head.Bias is not null && !head.Bias.HasShape(O))
                throw new ArgumentException($"{src}: head bias has shape {Tensor.ShapeString(head.Bias.Shape)}, expected [{O}]");
            // MatMul wants [D·H, O]; stored transposed so the graph needs no Transpose on weights.
            var wt = new float[D * W0 * O];
            var hw = head.Weight.ReadOnlySpan;
            for (int o = 0; o < O; o++)
                for (int j = 0; j < D * W0; j++) wt[j * O + o] = hw[o * D * W0 + j];
            g.Initializer.Add(FloatTensor("head.weight_t", wt, D * W0, O));
            string hin;
            if (head.AllSteps) hin = "y";
            else
            {
                g.Initializer.Add(Int64Tensor("last_step_index", [-1]));
                g.Node.Add(Node("Gather", "head.last_step", [yTimeMajor, "last_step_index"], ["head.last"], Int("axis", 0)));
                hin = "head.last"; // [B, D·H]
            }
            g.Node.Add(Node("MatMul", "head.matmul", [hin, "head.weight_t"], ["head.mm"]));
            string pred = "head.mm";
            if (head.Bias is not null)
            {
                g.Initializer.Add(FloatTensor("head.bias", head.Bias.ReadOnlySpan, O));
                g.Node.Add(Node("Add", "head.add_bias", [pred, "head.bias"], ["head.out"]));
                pred = "head.out";
            }
            if (options.OutputScaler is { } outScale)
                pred = AddScaler(g, pred, "output_scaler", outScale, O, src);
            g.Node.Add(Node("Identity", "prediction_out", [pred], ["prediction"]));
            object[] pDims = !head.AllSteps ? [batchDim, O] : spec.BatchFirst ? [batchDim, seqDim, O] : [seqDim, batchDim, O];
            string pDoc = head.AllSteps ? "linear head at every step" : "linear head at the last step [batch, outputs]";
            if (options.OutputScaler is not null) pDoc += ", output scaler applied";
            g.Output.Add(FloatValue("prediction", pDoc, pDims));
        }
        else if (options.OutputScaler is not null)
            throw new ArgumentException($"{src}: an output scaler needs a head");

        string layers = $"{L}-layer {(spec.Bidirectional ? "bidirectional " : spec.Reverse ? "reverse " : "")}{spec.KindName.ToUpperInvariant()}, input {I}, hidden {H}";
        g.DocString = options.DocString ?? $"Gyre {layers}" + (options.Head is null ? "" : $", linear head ({headMode} step{(headMode == "all" ? "s" : "")})");
        var model = new ModelProto
        {
            IrVersion = options.Opset >= 21 ? 10 : 7,
            ProducerName = "gyre",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = g.DocString,
            Graph = g,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        AddMeta(model, "gyre.format", "1");
        AddMeta(model, "gyre.kind", spec.KindName);
        AddMeta(model, "gyre.batch_first", spec.BatchFirst ? "true" : "false");
        AddMeta(model, "gyre.reverse", spec.Reverse ? "true" : "false");
        AddMeta(model, "gyre.head", headMode);
        return model;
    }

    // Row `slot` of an [L·D, B, H] state input as [B, H].
    private static string InitialState(GraphProto g, ExportNames names, string input, int slot)
    {
        string name = $"{input}_slot{slot}";
        if (!names.Add(name)) return name;
        g.Initializer.Add(Int64Tensor($"{name}.starts", [slot], 1));
        g.Initializer.Add(Int64Tensor($"{name}.ends", [slot + 1], 1));
        g.Node.Add(Node("Slice", $"{name}.slice", [input, $"{name}.starts", $"{name}.ends", names.Axes0], [$"{name}.row"]));
        g.Node.Add(Node("Squeeze", $"{name}.squeeze", [$"{name}.row", names.Axes0], [name]));
        return name;
    }

    private static void AddMeta(ModelProto m, string key, string value) =>
        m.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

    // Rows [k·D, (k+1)·D) of an [L·D, B, H] state input.
    private static string StateSlice(GraphProto g, string input, int k, int D, int L)
    {
        if (L == 1) return input;
        string name = $"{input}_l{k}";
        g.Initializer.Add(Int64Tensor($"{name}.starts", [k * D], 1));
        g.Initializer.Add(Int64Tensor($"{name}.ends", [(k + 1) * D], 1));
        if (k == 0) g.Initializer.Add(Int64Tensor("axis0", [0], 1));
        g.Node.Add(Node("Slice", $"{name}.slice", [input, $"{name}.starts", $"{name}.ends", "axis0"], [name]));
        return name;
    }

    private static string AddScaler(GraphProto g, string input, string prefix, AffineScaler s, int features, string src)
    {
        if (!s.Scale.HasShape(features) || !s.Shift.HasShape(features))
            throw new ArgumentException($"{src}: {prefix} scale {Tensor.ShapeString(s.Scale.Shape)} / shift {Tensor.ShapeString(s.Shift.Shape)} must both be [{features}]");
        g.Initializer.Add(FloatTensor($"{prefix}.scale", s.Scale.ReadOnlySpan, features));
        g.Initializer.Add(FloatTensor($"{prefix}.shift", s.Shift.ReadOnlySpan, features));
        g.Node.Add(Node("Mul", $"{prefix}.mul", [input, $"{prefix}.scale"], [$"{prefix}.scaled"]));
        g.Node.Add(Node("Add", $"{prefix}.add", [$"{prefix}.scaled", $"{prefix}.shift"], [$"{prefix}.out"]));
        return $"{prefix}.out";
    }
}
