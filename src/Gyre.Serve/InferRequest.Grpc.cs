using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using Gyre.Serve.Grpc;

namespace Gyre.Serve;

public sealed partial class InferRequest
{
    /// <summary>The sequence id as the gRPC request gave it (echoed in the answer); null without one or over REST.</summary>
    public InferParameter? SequenceIdParameter { get; private init; }

    /// <summary>
    /// The gRPC ModelInferRequest, read through the same checks as the JSON one. Data come from each input's
    /// <c>contents</c> (fp32_contents for "x" and "future", int64_contents for "time") or, when the request carries
    /// raw_input_contents, from the entry of the same index: little-endian FP32 / INT64, row-major.
    /// </summary>
    public static InferRequest FromGrpc(ModelInferRequest request, ServedModel model, ServeOptions options)
    {
        string? seq = null; InferParameter? seqParameter = null; bool start = false, end = false;
        if (request.Parameters.TryGetValue("sequence_id", out var s))
        {
            seq = s.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.StringParam when s.StringParam is { Length: > 0 and <= 256 } text => text,
                InferParameter.ParameterChoiceOneofCase.Int64Param when s.Int64Param > 0 => s.Int64Param.ToString(CultureInfo.InvariantCulture),
                InferParameter.ParameterChoiceOneofCase.Uint64Param when s.Uint64Param > 0 => s.Uint64Param.ToString(CultureInfo.InvariantCulture),
                _ => throw BadSequenceId(ParameterText(s)),
            };
            seqParameter = s;
        }
        start = Flag(request, "sequence_start");
        end = Flag(request, "sequence_end");
        CheckSequence(model, seq, start, end);

        if (request.Inputs.Count == 0) throw Bad("the request has no 'inputs'");
        bool raw = request.RawInputContents.Count > 0;
        if (raw && request.RawInputContents.Count != request.Inputs.Count)
            throw Bad($"raw_input_contents has {request.RawInputContents.Count} entries for {request.Inputs.Count} inputs (one per input, in order)");
        float[]? x = null, future = null; long[]? times = null; int rows = 0;
        var seen = new HashSet<string>();
        for (int index = 0; index < request.Inputs.Count; index++)
        {
            var t = request.Inputs[index];
            if (t.Name.Length == 0) throw Bad($"inputs[{index}] has no 'name'");
            string name = t.Name;
            CheckInputName(model, seen, name);
            if (t.Datatype.Length == 0) throw Bad($"input '{name}' has no 'datatype'");
            var shape = new int[t.Shape.Count];
            for (int d = 0; d < shape.Length; d++)
                shape[d] = t.Shape[d] is >= 0 and <= int.MaxValue ? (int)t.Shape[d]
                    : throw Bad($"input '{name}': shape[{d}] must be a non-negative integer, got {t.Shape[d]}");
            int elements = CheckTensor(model, options, name, t.Datatype, shape);
            if (raw && t.Contents is { } c && ContentCount(c) > 0)
                throw Bad($"input '{name}' has data both in 'contents' and in raw_input_contents[{index}]");
            if (name == "x")
            {
                x = raw ? RawFloats(name, request.RawInputContents[index], shape, elements) : Floats(name, t.Contents, shape, elements);
                rows = shape[0];
            }
            else if (name == "future")
                future = raw ? RawFloats(name, request.RawInputContents[index], shape, elements) : Floats(name, t.Contents, shape, elements);
            else
            {
                times = raw ? RawIntegers(name, request.RawInputContents[index], shape, elements) : Integers(name, t.Contents, shape, elements);
            }
        }
        var observations = Observe(model, seen, x, rows, times, future);

        HashSet<string>? outputs = null;
        if (request.Outputs.Count > 0)
        {
            outputs = [];
            for (int k = 0; k < request.Outputs.Count; k++)
            {
                string name = request.Outputs[k].Name;
                if (name.Length == 0) throw Bad($"outputs[{k}] has no 'name'");
                CheckOutput(model, name);
                outputs.Add(name);
            }
        }
        return new InferRequest
        {
            Id = request.Id.Length > 0 ? request.Id : null, Input = observations, Outputs = outputs,
            SequenceId = seq, SequenceIdParameter = seqParameter, Start = start, End = end,
        };
    }

    private static bool Flag(ModelInferRequest request, string name)
    {
        if (!request.Parameters.TryGetValue(name, out var v)) return false;
        return v.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.BoolParam ? v.BoolParam : throw BadFlag(name, ParameterText(v));
    }

    private static string ParameterText(InferParameter p) => p.ParameterChoiceCase switch
    {
        InferParameter.ParameterChoiceOneofCase.BoolParam => $"bool_param {(p.BoolParam ? "true" : "false")}",
        InferParameter.ParameterChoiceOneofCase.Int64Param => $"int64_param {p.Int64Param}",
        InferParameter.ParameterChoiceOneofCase.Uint64Param => $"uint64_param {p.Uint64Param}",
        InferParameter.ParameterChoiceOneofCase.DoubleParam => $"double_param {p.DoubleParam.ToString(CultureInfo.InvariantCulture)}",
        InferParameter.ParameterChoiceOneofCase.StringParam => $"string_param \"{(p.StringParam.Length > 40 ? p.StringParam[..40] + "…" : p.StringParam)}\"",
        _ => "no value",
    };

    private static int ContentCount(InferTensorContents c) =>
        c.BoolContents.Count + c.IntContents.Count + c.Int64Contents.Count + c.UintContents.Count + c.Uint64Contents.Count
        + c.Fp32Contents.Count + c.Fp64Contents.Count + c.BytesContents.Count;

    /// <summary>An FP32 input's fp32_contents; data in another field of contents is named as the wrong one.</summary>
    private static float[] Floats(string name, InferTensorContents? c, int[] shape, int elements)
    {
        int count = c?.Fp32Contents.Count ?? 0;
        if (c != null && ContentCount(c) != count) throw Bad($"input '{name}' is FP32: its data go in contents.fp32_contents");
        CheckCount(name, count, shape, elements);
        var x = new float[elements];
        for (int i = 0; i < elements; i++) x[i] = Finite(name, i, c!.Fp32Contents[i], c.Fp32Contents[i].ToString("R", CultureInfo.InvariantCulture));
        return x;
    }

    private static long[] Integers(string name, InferTensorContents? c, int[] shape, int elements)
    {
        int count = c?.Int64Contents.Count ?? 0;
        if (c != null && ContentCount(c) != count) throw Bad($"input '{name}' is INT64: its data go in contents.int64_contents");
        CheckCount(name, count, shape, elements);
        return [.. c!.Int64Contents];
    }

    private static float[] RawFloats(string name, ByteString bytes, int[] shape, int elements)
    {
        CheckRawLength(name, bytes, 4, shape, elements);
        var span = bytes.Span;
        var x = new float[elements];
        for (int i = 0; i < elements; i++)
        {
            float v = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(4 * i, 4));
            x[i] = Finite(name, i, v, v.ToString("R", CultureInfo.InvariantCulture));
        }
        return x;
    }

    private static long[] RawIntegers(string name, ByteString bytes, int[] shape, int elements)
    {
        CheckRawLength(name, bytes, 8, shape, elements);
        var span = bytes.Span;
        var t = new long[elements];
        for (int i = 0; i < elements; i++) t[i] = BinaryPrimitives.ReadInt64LittleEndian(span.Slice(8 * i, 8));
        return t;
    }

    private static void CheckRawLength(string name, ByteString bytes, int size, int[] shape, int elements)
    {
        if (bytes.Length != (long)size * elements)
            throw Bad($"input '{name}': raw_input_contents has {bytes.Length} bytes, its shape {ShapeText(shape)} needs {(long)size * elements} ({size} per element)");
    }
}
