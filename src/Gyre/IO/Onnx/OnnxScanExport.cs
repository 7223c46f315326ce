using Gyre.Cells;
using Gyre.Tensors;
using Onnx;
using static Gyre.IO.Onnx.OnnxProto;

namespace Gyre.IO.Onnx;

/// <summary>
/// Exports one layer of a cell that has no native ONNX operator as ONNX <c>Scan</c> nodes, one per direction:
/// gx = x·W_ihᵀ + bias for all steps is one MatMul outside (as in Gyre's runner), the Scan iterates over time
/// (axis 0 of [T, B, G·H]; reversed for the reverse direction) carrying the cell's states, and its body is the
/// step the cell writes through <see cref="IOnnxStep"/>. Parameters and constants are initializers of the
/// main graph that the body reads from the outer scope.
/// </summary>
internal static class OnnxScanExport
{
    /// <summary>
    /// Adds layer <paramref name="k"/> reading <paramref name="input"/> [T, B, I_k]; writes its output
    /// [T, B, D·W_0] as <paramref name="output"/> and appends each direction's final states ([1, B, W_j] per state)
    /// to <paramref name="finals"/>. <paramref name="initial"/>(direction, state) names an initial state [B, W_j].
    /// W_j = <see cref="CellDefinition.StateWidth"/> (H unless the cell narrows the state).
    /// </summary>
    public static void Layer(GraphProto g, ExportNames names, RecurrentSpec spec, CellDefinition cell,
        IReadOnlyDictionary<string, Tensor> stateDict, int k, string input, string output,
        Func<int, int, string> initial, List<string>[] finals, string source)
    {
        int H = spec.HiddenSize, G = cell.Gates, D = spec.Directions, ik = spec.LayerInputSize(k), ns = cell.States;
        var ys = new List<string>();
        for (int d = 0; d < D; d++)
        {
            string suffix = $"_l{k}{RecurrentSpec.Suffix(d)}";
            string p = $"{cell.Name}{suffix}";
            bool reverse = d == 1 || spec.Reverse;

            // gx = x·W_ihᵀ + b_ih (+ b_hh when the cell folds it into the projection).
            var wIh = stateDict[$"weight_ih{suffix}"];
            g.Initializer.Add(FloatTensor($"{p}.weight_ih_t", Transpose(wIh.ReadOnlySpan, G * H, ik), ik, G * H));
            g.Node.Add(Node("MatMul", $"{p}.project", [input, $"{p}.weight_ih_t"], [$"{p}.xw"]));
            string gx = $"{p}.xw";
            if (spec.Bias)
            {
                var bias = stateDict[$"bias_ih{suffix}"].ReadOnlySpan.ToArray();
                if (!cell.HiddenBiasApart && stateDict.TryGetValue($"bias_hh{suffix}", out var bhh))
                    for (int i = 0; i < bias.Length; i++) bias[i] += bhh.ReadOnlySpan[i];
                g.Initializer.Add(FloatTensor($"{p}.gx_bias", bias, G * H));
                g.Node.Add(Node("Add", $"{p}.add_bias", [gx, $"{p}.gx_bias"], [$"{p}.gx"]));
                gx = $"{p}.gx";
            }

            var body = new GraphProto { Name = $"{p}.step" };
            var step = new StepBuilder(g, body, names, stateDict, p, suffix, H, ns);
            for (int j = 0; j < ns; j++) body.Input.Add(FloatValue(step.State(j), $"state {cell.StateNames[j]} before the step", "batch", cell.StateWidth(j, H)));
            body.Input.Add(FloatValue(step.Gx, "projected input of the step", "batch", G * H));
            if (!cell.EmitOnnxStep(step))
                throw new NotSupportedException($"{source}: cell {cell} cannot be expressed in ONNX operators");
            var next = step.Next ?? throw new InvalidOperationException($"cell {cell.Name} wrote no next state in its ONNX step");
            if (next.Length != ns) throw new InvalidOperationException($"cell {cell.Name} set {next.Length} next states in its ONNX step, it has {ns}");
            for (int j = 0; j < ns; j++)
            {
                body.Node.Add(Node("Identity", $"{p}.step.out{j}", [next[j]], [$"{p}.s{j}_next"]));
                body.Output.Add(FloatValue($"{p}.s{j}_next", $"state {cell.StateNames[j]} after the step", "batch", cell.StateWidth(j, H)));
            }
            body.Node.Add(Node("Identity", $"{p}.step.y", [next[0]], [$"{p}.y_t"]));
            body.Output.Add(FloatValue($"{p}.y_t", "the step's output h", "batch", cell.StateWidth(0, H)));

            var scanInputs = Enumerable.Range(0, ns).Select(j => initial(d, j)).Append(gx);
            var scanOutputs = Enumerable.Range(0, ns).Select(j => $"{p}.s{j}_final").Append($"{p}.Y");
            var scan = Node("Scan", $"{p}.scan", scanInputs, scanOutputs,
                new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body },
                Int("num_scan_inputs", 1), Ints("scan_input_directions", reverse ? 1 : 0), Ints("scan_output_directions", reverse ? 1 : 0));
            scan.DocString = $"layer {k}{(d == 1 ? " reverse" : "")}: {cell} step over time ({(reverse ? "backwards" : "forwards")})";
            g.Node.Add(scan);
            ys.Add($"{p}.Y");
            for (int j = 0; j < ns; j++)
            {
                g.Node.Add(Node("Unsqueeze", $"{p}.final{j}", [$"{p}.s{j}_final", names.Axes0], [$"{p}.s{j}_n"]));
                finals[j].Add($"{p}.s{j}_n");
            }
        }
        // [T, B, H] per direction → [T, B, D·H] (forward ‖ reverse).
        g.Node.Add(ys.Count == 1 ? Node("Identity", $"{output}.merge", ys, [output]) : Node("Concat", $"{output}.merge", ys, [output], Int("axis", 2)));
    }

    /// <summary>[B, H] zeros with B taken from <paramref name="timeMajorInput"/> [T, B, ·], built once.</summary>
    public static string ZeroState(GraphProto g, ExportNames names, string timeMajorInput, int hidden)
    {
        string name = $"zero_state_{hidden}";
        if (!names.Add(name)) return name;
        if (names.Add("shape_of_x")) g.Node.Add(Node("Shape", "shape_of_x", [timeMajorInput], ["shape_of_x"]));
        if (names.Add("index_1")) g.Initializer.Add(Int64Tensor("index_1", [1], 1));
        if (names.Add("batch_dim")) g.Node.Add(Node("Gather", "batch_dim", ["shape_of_x", "index_1"], ["batch_dim"], Int("axis", 0)));
        g.Initializer.Add(Int64Tensor($"{name}.width", [hidden], 1));
        g.Node.Add(Node("Concat", $"{name}.shape", ["batch_dim", $"{name}.width"], [$"{name}.shape"], Int("axis", 0)));
        var zero = FloatTensor("value", [0f], 1);
        g.Node.Add(Node("ConstantOfShape", name, [$"{name}.shape"], [name],
            new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = zero }));
        return name;
    }

    private static float[] Transpose(ReadOnlySpan<float> src, int rows, int cols)
    {
        var t = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = src[r * cols + c];
        return t;
    }

    /// <summary>The <see cref="IOnnxStep"/> of one layer direction: nodes go into the Scan body, parameters and
    /// constants into the main graph (read from the outer scope).</summary>
    private sealed class StepBuilder(GraphProto main, GraphProto body, ExportNames names, IReadOnlyDictionary<string, Tensor> stateDict,
        string prefix, string suffix, int hidden, int states) : IOnnxStep
    {
        private int _nodes;

        public int Hidden => hidden;
        public string Gx => $"{prefix}.gx_t";
        public string[]? Next { get; private set; }

        public string State(int j) => (uint)j < (uint)states ? $"{prefix}.s{j}"
            : throw new ArgumentOutOfRangeException(nameof(j), $"the cell has {states} states");

        public string? Parameter(string baseName)
        {
            string key = baseName + suffix, name = $"{prefix}.{baseName}";
            if (!stateDict.TryGetValue(key, out var t)) return null;
            if (names.Add(name)) main.Initializer.Add(FloatTensor(name, t.ReadOnlySpan, [.. t.Shape.ToArray().Select(d => (long)d)]));
            return name;
        }

        public string ParameterTransposed(string baseName)
        {
            string key = baseName + suffix, name = $"{prefix}.{baseName}_t";
            var t = stateDict.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no parameter '{key}' to transpose");
            if (t.Rank is not (2 or 3)) throw new ArgumentException($"parameter '{key}' is {Tensor.ShapeString(t.Shape)}, not a matrix or a stack of them");
            if (names.Add(name))
            {
                int batch = t.Rank == 3 ? t.Dim(0) : 1, rows = t.Dim(t.Rank - 2), cols = t.Dim(t.Rank - 1);
                var data = new float[t.Length];
                for (int k = 0; k < batch; k++)
                    OnnxScanExport.Transpose(t.ReadOnlySpan.Slice(k * rows * cols, rows * cols), rows, cols).CopyTo(data, k * rows * cols);
                main.Initializer.Add(t.Rank == 2 ? FloatTensor(name, data, cols, rows) : FloatTensor(name, data, batch, cols, rows));
            }
            return name;
        }

        public string Op(string opType, string[] inputs, params (string Name, long Value)[] attributes)
        {
            string output = $"{prefix}.t{_nodes++}";
            body.Node.Add(Node(opType, output, inputs, [output], [.. attributes.Select(a => Int(a.Name, a.Value))]));
            return output;
        }

        public string Reshape(string value, params long[] shape)
        {
            string shapeName = $"shape_{string.Join("_", shape.Select(d => d < 0 ? "m" + (-d) : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}";
            if (names.Add(shapeName)) main.Initializer.Add(Int64Tensor(shapeName, shape, shape.Length));
            string output = $"{prefix}.t{_nodes++}";
            body.Node.Add(Node("Reshape", output, [value, shapeName], [output]));
            return output;
        }

        public string Transpose(string value, params long[] perm)
        {
            string output = $"{prefix}.t{_nodes++}";
            body.Node.Add(Node("Transpose", output, [value], [output], Ints("perm", perm)));
            return output;
        }

        public string Constant(float value)
        {
            string name = $"const_{BitConverter.SingleToInt32Bits(value):x8}";
            if (names.Add(name)) main.Initializer.Add(FloatTensor(name, [value]));
            return name;
        }

        public string Columns(string value, int start, int count)
        {
            string p = $"cols_{start}_{count}";
            if (names.Add(p))
            {
                main.Initializer.Add(Int64Tensor($"{p}.starts", [start], 1));
                main.Initializer.Add(Int64Tensor($"{p}.ends", [start + count], 1));
            }
            if (names.Add("axes_1")) main.Initializer.Add(Int64Tensor("axes_1", [1], 1));
            string output = $"{prefix}.t{_nodes++}";
            body.Node.Add(Node("Slice", output, [value, $"{p}.starts", $"{p}.ends", "axes_1"], [output]));
            return output;
        }

        public void SetNext(params string[] next) => Next = next;
    }
}

/// <summary>Names already defined in an exported graph (initializers and shared nodes are added once).</summary>
internal sealed class ExportNames
{
    private readonly HashSet<string> _names = [];

    /// <summary>The [0] axes input of Unsqueeze (opset 13+ takes axes as an input).</summary>
    public string Axes0 { get; } = "axes_0";

    /// <summary>True when <paramref name="name"/> was new (the caller defines it now).</summary>
    public bool Add(string name) => _names.Add(name);
}
