namespace Gyre.Cells;

/// <summary>
/// Where a cell writes its step as ONNX primitive operators (<see cref="CellDefinition.EmitOnnxStep"/>), for
/// cells without a native ONNX recurrent operator: the exporter wraps the step in an ONNX <c>Scan</c> whose
/// iterations are the time steps, exactly as Gyre's runner splits the work — the input projection
/// gx = x·W_ihᵀ + b_ih (+ b_hh when the cell folds it) is one MatMul over the whole sequence outside the
/// Scan, and the body holds only what the cell's own step does.
/// <para>Every value is named by a string; shapes use R for the batch rows of one step, H hidden units,
/// G gate blocks. Every helper returns the name of its (single) output.</para>
/// </summary>
public interface IOnnxStep
{
    /// <summary>H: hidden units.</summary>
    int Hidden { get; }

    /// <summary>gx of this step [R, G·H]: x·W_ihᵀ + b_ih (+ b_hh unless <see cref="CellDefinition.HiddenBiasApart"/>).</summary>
    string Gx { get; }

    /// <summary>State <paramref name="j"/> before the step [R, W_j] (0 is h; W_j = <see cref="CellDefinition.StateWidth"/>, H unless narrowed).</summary>
    string State(int j);

    /// <summary>This layer direction's parameter <paramref name="baseName"/> (e.g. "weight_hh", "bias_hh", an extra
    /// parameter's name) as stored in the state dict, or null when the layer has none (e.g. no biases).</summary>
    string? Parameter(string baseName);

    /// <summary>A parameter with its last two dimensions swapped ([N, K] → [K, N]; [n, N, K] → [n, K, N]), so that
    /// v·Wᵀ is one MatMul(v, result).</summary>
    string ParameterTransposed(string baseName);

    /// <summary>Reshape to <paramref name="shape"/> (ONNX rules: 0 copies the input's dimension, −1 is inferred).</summary>
    string Reshape(string value, params long[] shape);

    /// <summary>Transpose with permutation <paramref name="perm"/>.</summary>
    string Transpose(string value, params long[] perm);

    /// <summary>A node of <paramref name="opType"/> with integer attributes; its one output's name.</summary>
    string Op(string opType, string[] inputs, params (string Name, long Value)[] attributes);

    /// <summary>A float scalar constant.</summary>
    string Constant(float value);

    /// <summary>Columns [start, start + count) of a [R, ·] value.</summary>
    string Columns(string value, int start, int count);

    /// <summary>Sets the states after the step (one [R, W_j] value per state, state 0 first; h is the step's output).</summary>
    void SetNext(params string[] states);
}

/// <summary>Shorthands over <see cref="IOnnxStep.Op"/> for the primitives cells use.</summary>
public static class OnnxStepOps
{
    public static string Add(this IOnnxStep s, string a, string b) => s.Op("Add", [a, b]);
    public static string Sub(this IOnnxStep s, string a, string b) => s.Op("Sub", [a, b]);
    public static string Mul(this IOnnxStep s, string a, string b) => s.Op("Mul", [a, b]);
    public static string Div(this IOnnxStep s, string a, string b) => s.Op("Div", [a, b]);
    public static string MatMul(this IOnnxStep s, string a, string b) => s.Op("MatMul", [a, b]);
    public static string Sigmoid(this IOnnxStep s, string a) => s.Op("Sigmoid", [a]);
    public static string Tanh(this IOnnxStep s, string a) => s.Op("Tanh", [a]);
    public static string Relu(this IOnnxStep s, string a) => s.Op("Relu", [a]);
    public static string Exp(this IOnnxStep s, string a) => s.Op("Exp", [a]);
    public static string Log(this IOnnxStep s, string a) => s.Op("Log", [a]);
    public static string Max(this IOnnxStep s, string a, string b) => s.Op("Max", [a, b]);
    public static string Min(this IOnnxStep s, string a, string b) => s.Op("Min", [a, b]);
    public static string Neg(this IOnnxStep s, string a) => s.Op("Neg", [a]);
    public static string Softplus(this IOnnxStep s, string a) => s.Op("Softplus", [a]);

    /// <summary>Gate block <paramref name="k"/> of a [R, G·H] value: columns [k·H, (k+1)·H).</summary>
    public static string Gate(this IOnnxStep s, string v, int k) => s.Columns(v, k * s.Hidden, s.Hidden);

    /// <summary>h·W_hhᵀ (+ b_hh when present) for a dense weight_hh [G·H, H].</summary>
    public static string DenseRecurrent(this IOnnxStep s, string h, bool withBias)
    {
        string gh = s.MatMul(h, s.ParameterTransposed("weight_hh"));
        return withBias && s.Parameter("bias_hh") is { } b ? s.Add(gh, b) : gh;
    }

    /// <summary>
    /// The block-diagonal product of heads (weight_hh [n, G·d, d], d = H/n, gate blocks inside each head) laid out
    /// as gx is, [R, G·H] with column g·H + k·d + j: h [R, H] → [n, R, d], one batched MatMul with the per-head
    /// transposed blocks [n, d, G·d], then [n, R, G, d] → [R, G, n, d] → [R, G·H].
    /// </summary>
    public static string HeadsRecurrent(this IOnnxStep s, string h, int gates, int heads)
    {
        int d = s.Hidden / heads;
        string perHead = s.Transpose(s.Reshape(h, 0, heads, d), 1, 0, 2);
        string product = s.MatMul(perHead, s.ParameterTransposed("weight_hh"));
        return s.Reshape(s.Transpose(s.Reshape(product, 0, 0, gates, d), 1, 2, 0, 3), 0, -1);
    }

    /// <summary>a + z ⊙ (b − a): the convex blend (1 − z) ⊙ a + z ⊙ b with one multiply.</summary>
    public static string Lerp(this IOnnxStep s, string a, string b, string z) => s.Add(a, s.Mul(z, s.Sub(b, a)));
}
