using System.Globalization;
using System.Text.Json;

namespace Gyre.Serve;

/// <summary>
/// An Open Inference Protocol v2 infer request, parsed and checked against the model's metadata: every refusal is a
/// <see cref="ServeException"/> (400 or 413) whose message names the field, tensor or element.
/// JSON: {"id"?, "inputs": [{"name", "shape", "datatype", "data"}], "outputs"?: [{"name"}], "parameters"?:
/// {"sequence_id", "sequence_start", "sequence_end"}}; data flat or nested row-major. The gRPC form of the same request
/// is read in InferRequest.Grpc.cs through the same checks, so both transports refuse alike in the same words.
/// </summary>
public sealed partial class InferRequest
{
    public string? Id { get; private init; }
    public Observations Input { get; private init; } = null!;
    /// <summary>Requested output names (null: all).</summary>
    public HashSet<string>? Outputs { get; private init; }
    /// <summary>The sequence id as given (number or string), null without one.</summary>
    public string? SequenceId { get; private init; }
    /// <summary>The sequence id as the JSON request gave it (echoed in the answer); null without one or over gRPC.</summary>
    public JsonElement? SequenceIdJson { get; private init; }
    public bool Start { get; private init; }
    public bool End { get; private init; }

    private static ServeException Bad(string message) => new(400, message);

    /// <summary>Index of the first byte that does not start a valid UTF-8 sequence (the text is known to hold one).</summary>
    private static int FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        int i = 0;
        while (i < text.Length && System.Text.Rune.DecodeFromUtf8(text[i..], out _, out int used) == System.Buffers.OperationStatus.Done) i += used;
        return i;
    }

    public static InferRequest Parse(ReadOnlyMemory<byte> body, ServedModel model, ServeOptions options)
    {
        // JsonDocument checks the structure but decodes strings (names, ids, labels) only when read, so bytes that are
        // not UTF-8 would surface later as an InvalidOperationException: refuse them here, naming the first bad byte.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
            throw Bad($"the request body is not valid UTF-8 (byte {FirstInvalidUtf8(body.Span) + 1}); JSON must be UTF-8 encoded");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw Bad($"the request body is not valid JSON: {e.Message.Split(". LineNumber")[0]} (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad($"the request body must be a JSON object, got {Kind(root)}");
            string? id = null;
            if (root.TryGetProperty("id", out var idEl))
                id = idEl.ValueKind == JsonValueKind.String ? idEl.GetString() : throw Bad($"'id' must be a string, got {Kind(idEl)}");

            // parameters: the sequence batcher's three, others ignored as the protocol allows.
            string? seq = null; JsonElement? seqJson = null; bool start = false, end = false;
            if (root.TryGetProperty("parameters", out var pars))
            {
                if (pars.ValueKind != JsonValueKind.Object) throw Bad($"'parameters' must be an object, got {Kind(pars)}");
                if (pars.TryGetProperty("sequence_id", out var s))
                {
                    seq = s.ValueKind switch
                    {
                        JsonValueKind.String when s.GetString() is { Length: > 0 and <= 256 } text => text,
                        JsonValueKind.Number when s.TryGetUInt64(out ulong n) && n > 0 => n.ToString(CultureInfo.InvariantCulture),
                        _ => throw BadSequenceId(Text(s)),
                    };
                    seqJson = s.Clone();
                }
                start = Flag(pars, "sequence_start");
                end = Flag(pars, "sequence_end");
            }
            CheckSequence(model, seq, start, end);

            if (!root.TryGetProperty("inputs", out var inputs)) throw Bad("the request has no 'inputs'");
            if (inputs.ValueKind != JsonValueKind.Array || inputs.GetArrayLength() == 0) throw Bad($"'inputs' must be a non-empty array, got {Text(inputs)}");
            float[]? x = null, future = null; long[]? times = null; int rows = 0;
            var seen = new HashSet<string>();
            int index = 0;
            foreach (var t in inputs.EnumerateArray())
            {
                string where = $"inputs[{index++}]";
                if (t.ValueKind != JsonValueKind.Object) throw Bad($"{where} must be an object, got {Kind(t)}");
                string name = t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : throw Bad($"{where} has no string 'name'");
                CheckInputName(model, seen, name);
                string datatype = t.TryGetProperty("datatype", out var dt) && dt.ValueKind == JsonValueKind.String ? dt.GetString()! : throw Bad($"input '{name}' has no string 'datatype'");
                var shape = Shape(t, name);
                int elements = CheckTensor(model, options, name, datatype, shape);
                if (!t.TryGetProperty("data", out var data)) throw Bad($"input '{name}' has no 'data'");
                if (name == "x")
                {
                    x = new float[elements];
                    int filled = 0;
                    Fill(data, name, x, ref filled, 0, options.MaxElements);
                    CheckCount(name, filled, shape, elements);
                    rows = shape[0];
                }
                else if (name == "future")
                {
                    future = new float[elements];
                    int filled = 0;
                    Fill(data, name, future, ref filled, 0, options.MaxElements);
                    CheckCount(name, filled, shape, elements);
                }
                else
                {
                    times = new long[elements];
                    int filled = 0;
                    FillIntegers(data, name, times, ref filled, 0);
                    CheckCount(name, filled, shape, elements);
                }
            }
            var observations = Observe(model, seen, x, rows, times, future);

            HashSet<string>? outputs = null;
            if (root.TryGetProperty("outputs", out var outs))
            {
                if (outs.ValueKind != JsonValueKind.Array) throw Bad($"'outputs' must be an array, got {Kind(outs)}");
                outputs = [];
                int k = 0;
                foreach (var o in outs.EnumerateArray())
                {
                    string name = o.ValueKind == JsonValueKind.Object && o.TryGetProperty("name", out var on) && on.ValueKind == JsonValueKind.String
                        ? on.GetString()! : throw Bad($"outputs[{k}] must be an object with a string 'name'");
                    CheckOutput(model, name);
                    outputs.Add(name);
                    k++;
                }
            }
            return new InferRequest
            {
                Id = id, Input = observations, Outputs = outputs,
                SequenceId = seq, SequenceIdJson = seqJson, Start = start, End = end,
            };
        }
    }

    private static bool Flag(JsonElement pars, string name)
    {
        if (!pars.TryGetProperty(name, out var v)) return false;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw BadFlag(name, Text(v)),
        };
    }

    // ------------------------------------------------------------------ the checks both transports share

    private static ServeException BadSequenceId(string got) =>
        Bad($"parameters.sequence_id must be a positive integer or a non-empty string of at most 256 characters, got {got}");

    private static ServeException BadFlag(string name, string got) => Bad($"parameters.{name} must be true or false, got {got}");

    private static void CheckSequence(ServedModel model, string? seq, bool start, bool end)
    {
        if ((start || end) && seq is null) throw Bad("parameters.sequence_start / sequence_end need a parameters.sequence_id");
        if (seq is null && model.SequenceRequired)
            throw Bad($"model '{model.Name}' keeps recurrent state per stream: give parameters.sequence_id (and sequence_start = true on a stream's first request)");
    }

    private static void CheckInputName(ServedModel model, HashSet<string> seen, string name)
    {
        if (!model.Inputs.Any(i => i.Name == name))
            throw Bad($"model '{model.Name}' has no input '{name}' (inputs: {string.Join(", ", model.Inputs.Select(i => i.Name))})");
        if (!seen.Add(name)) throw Bad($"input '{name}' is given twice");
    }

    /// <summary>Datatype, shape and size of a declared input against the model's metadata; its element count.</summary>
    private static int CheckTensor(ServedModel model, ServeOptions options, string name, string datatype, int[] shape)
    {
        var spec = model.Inputs.First(i => i.Name == name);
        if (datatype != spec.Datatype) throw Bad($"input '{name}' must be {spec.Datatype}, got datatype {datatype}");
        long elements = shape.Aggregate(1L, (a, d) => a * d);
        if (elements > options.MaxElements) throw new ServeException(413, $"input '{name}' has {elements} elements, more than --max-elements {options.MaxElements}");
        if (shape.Length != spec.Shape.Length) throw Bad($"input '{name}' must have shape {ShapeText(spec.Shape)}, got {ShapeText(shape)}");
        for (int d = 0; d < shape.Length; d++)
            if (spec.Shape[d] >= 0 && shape[d] != spec.Shape[d]) throw Bad($"input '{name}' must have shape {ShapeText(spec.Shape)}, got {ShapeText(shape)}");
        if (shape[0] == 0) throw Bad($"input '{name}' has no rows (shape {ShapeText(shape)})");
        return (int)elements;
    }

    private static void CheckCount(string name, int filled, int[] shape, int elements)
    {
        if (filled != elements) throw Bad($"input '{name}' has {filled} data elements, its shape {ShapeText(shape)} needs {elements}");
    }

    private static float Finite(string name, int index, double value, string text)
    {
        float f = (float)value;
        if (!float.IsFinite(f)) throw Bad($"input '{name}': data[{index}] = {text} is not a finite FP32 value");
        return f;
    }

    private static void CheckOutput(ServedModel model, string name)
    {
        if (!model.Outputs.Any(s => s.Name == name))
            throw Bad($"model '{model.Name}' has no output '{name}' (outputs: {string.Join(", ", model.Outputs.Select(s => s.Name))})");
    }

    /// <summary>The request's observations once every input is read: no input missing, times one per row, in order.</summary>
    private static Observations Observe(ServedModel model, HashSet<string> seen, float[]? x, int rows, long[]? times, float[]? future)
    {
        var missing = model.Inputs.FirstOrDefault(i => !seen.Contains(i.Name));
        if (missing != null) throw Bad($"model '{model.Name}' needs input '{missing.Name}' ({missing.Datatype} {ShapeText(missing.Shape)})");
        DateTime[]? when = null;
        if (times != null)
        {
            if (times.Length != rows) throw Bad($"input 'time' has {times.Length} values for {rows} rows of 'x'");
            when = new DateTime[rows];
            for (int r = 0; r < rows; r++)
            {
                if (times[r] is < -62135596800L or > 253402300799L) throw Bad($"input 'time': data[{r}] = {times[r]} is not a Unix time in years 1..9999");
                when[r] = DateTime.UnixEpoch.AddSeconds(times[r]);
                if (r > 0 && when[r] <= when[r - 1]) throw Bad($"input 'time': data[{r}] = {times[r]} does not come after data[{r - 1}] = {times[r - 1]}");
            }
        }
        return new Observations(x!, rows, model.Width, when) { Future = future };
    }

    private static int[] Shape(JsonElement t, string name)
    {
        if (!t.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array) throw Bad($"input '{name}' has no 'shape' array");
        var shape = new int[s.GetArrayLength()];
        int i = 0;
        foreach (var d in s.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out shape[i]) || shape[i] < 0)
                throw Bad($"input '{name}': shape[{i}] must be a non-negative integer, got {Text(d)}");
            i++;
        }
        return shape;
    }

    /// <summary>Flattens (possibly nested) data row-major; each element a finite number that fits FP32.</summary>
    private static void Fill(JsonElement data, string name, float[] dst, ref int filled, int depth, int max)
    {
        if (data.ValueKind != JsonValueKind.Array) throw Bad($"input '{name}': 'data' must be an array, got {Kind(data)}");
        foreach (var v in data.EnumerateArray())
        {
            if (v.ValueKind == JsonValueKind.Array) { Fill(v, name, dst, ref filled, depth + 1, max); continue; }
            if (filled >= dst.Length) { filled++; continue; }   // counted, reported as a size mismatch
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d))
                throw Bad($"input '{name}': data[{filled}] is {Text(v)}, not a number");
            dst[filled] = Finite(name, filled, d, v.GetRawText());
            filled++;
        }
    }

    private static void FillIntegers(JsonElement data, string name, long[] dst, ref int filled, int depth)
    {
        if (data.ValueKind != JsonValueKind.Array) throw Bad($"input '{name}': 'data' must be an array, got {Kind(data)}");
        foreach (var v in data.EnumerateArray())
        {
            if (v.ValueKind == JsonValueKind.Array) { FillIntegers(v, name, dst, ref filled, depth + 1); continue; }
            if (filled >= dst.Length) { filled++; continue; }
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out dst[filled]))
                throw Bad($"input '{name}': data[{filled}] is {Text(v)}, not an INT64");
            filled++;
        }
    }

    internal static string ShapeText(int[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string Text(JsonElement e)
    {
        string raw = e.GetRawText();
        return raw.Length > 40 ? raw[..40] + "…" : raw;
    }
}
