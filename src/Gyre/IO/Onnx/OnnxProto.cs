using System.Buffers.Binary;
using Google.Protobuf;
using Gyre.Tensors;
using Onnx;

namespace Gyre.IO.Onnx;

/// <summary>
/// Small builders and readers over OnnxSharp's generated protobuf classes (namespace <c>Onnx</c>), shared by
/// <see cref="OnnxExport"/> and <see cref="OnnxImport"/>. Gate permutations live here so export and import
/// use one definition.
/// </summary>
internal static class OnnxProto
{
    public const int FloatType = (int)TensorProto.Types.DataType.Float;
    public const int Int64Type = (int)TensorProto.Types.DataType.Int64;

    // A cell's OnnxCellMapping.TorchToOnnx[j] = which PyTorch row block becomes ONNX row block j.
    /// <summary>Copies <paramref name="src"/> (G row blocks of <paramref name="blockLength"/> floats)
    /// into <paramref name="dst"/> with block j taken from block perm[j].</summary>
    public static void PermuteBlocks(Span<float> dst, ReadOnlySpan<float> src, int[] perm, int blockLength)
    {
        for (int j = 0; j < perm.Length; j++)
            src.Slice(perm[j] * blockLength, blockLength).CopyTo(dst.Slice(j * blockLength, blockLength));
    }

    public static NodeProto Node(string op, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static TensorProto FloatTensor(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var t = new TensorProto { Name = name, DataType = FloatType, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        return t;
    }

    public static TensorProto Int64Tensor(string name, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = Int64Type };
        t.Int64Data.AddRange(values);
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>A float tensor value description; each dimension is a <see cref="long"/> size or a
    /// <see cref="string"/> symbolic name ("batch", "seq").</summary>
    public static ValueInfoProto FloatValue(string name, string doc, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p
                ? new TensorShapeProto.Types.Dimension { DimParam = p }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            DocString = doc,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType, Shape = shape } },
        };
    }

    /// <summary>Reads a float initializer into a <see cref="Tensor"/>; one-line errors name the file and tensor.</summary>
    public static Tensor ReadFloat(TensorProto t, string source)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new InvalidDataException($"{source}: initializer '{t.Name}' uses external data, which is not supported");
        if (t.DataType != FloatType)
            throw new InvalidDataException($"{source}: initializer '{t.Name}' has data type {(TensorProto.Types.DataType)t.DataType}, expected FLOAT");
        var shape = new int[t.Dims.Count];
        long n = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (t.Dims[i] < 0 || t.Dims[i] > int.MaxValue)
                throw new InvalidDataException($"{source}: initializer '{t.Name}' has invalid dimension {t.Dims[i]}");
            shape[i] = (int)t.Dims[i];
            n *= shape[i];
        }
        if (n > int.MaxValue) throw new InvalidDataException($"{source}: initializer '{t.Name}' is too large");
        var data = new float[n];
        if (!t.RawData.IsEmpty)
        {
            var raw = t.RawData.Span;
            if (raw.Length != n * 4)
                throw new InvalidDataException($"{source}: initializer '{t.Name}' holds {raw.Length} bytes, shape {Tensor.ShapeString(shape)} needs {n * 4}");
            for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4));
        }
        else
        {
            if (t.FloatData.Count != n)
                throw new InvalidDataException($"{source}: initializer '{t.Name}' holds {t.FloatData.Count} floats, shape {Tensor.ShapeString(shape)} needs {n}");
            t.FloatData.CopyTo(data, 0);
        }
        return new Tensor(data, shape);
    }
}
