namespace Gyre.Tensors;

/// <summary>
/// A contiguous float32 tensor: a window of <see cref="Length"/> floats in <see cref="Data"/>
/// starting at <see cref="Offset"/>, read row-major by <see cref="Shape"/>. Reshapes and slices of
/// the leading dimension are views (no copy); everything else copies. Not a general array library:
/// just enough for layers, loaders and users.
/// </summary>
public sealed class Tensor
{
    private readonly int[] _shape;

    /// <summary>The backing array (shared by views).</summary>
    public float[] Data { get; }

    /// <summary>Index of the first element in <see cref="Data"/>.</summary>
    public int Offset { get; }

    /// <summary>Number of elements (product of the shape).</summary>
    public int Length { get; }

    public Tensor(float[] data, int offset, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        _shape = (int[])shape.Clone();
        long n = 1;
        foreach (int d in _shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shape)}");
            n *= d;
        }
        if (n > int.MaxValue) throw new ArgumentException($"shape {ShapeString(shape)} has too many elements");
        if (offset < 0 || offset + n > data.Length)
            throw new ArgumentException($"shape {ShapeString(shape)} at offset {offset} does not fit in {data.Length} floats");
        Data = data;
        Offset = offset;
        Length = (int)n;
    }

    public Tensor(float[] data, params int[] shape) : this(data, 0, shape) { }

    /// <summary>A new zero-filled tensor.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= Math.Max(d, 0);
        return new Tensor(new float[n], 0, shape);
    }

    /// <summary>A new tensor copying <paramref name="values"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, params int[] shape)
    {
        var t = Zeros(shape);
        if (values.Length != t.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape {ShapeString(shape)}");
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>The dimensions (a copy; tensors are shape-immutable).</summary>
    public int[] Shape => (int[])_shape.Clone();

    public int Rank => _shape.Length;

    public int Dim(int axis) => _shape[axis < 0 ? axis + _shape.Length : axis];

    public Span<float> Span => Data.AsSpan(Offset, Length);

    public ReadOnlySpan<float> ReadOnlySpan => new(Data, Offset, Length);

    public float this[params int[] index]
    {
        get => Data[Offset + FlatIndex(index)];
        set => Data[Offset + FlatIndex(index)] = value;
    }

    private int FlatIndex(int[] index)
    {
        if (index.Length != _shape.Length)
            throw new ArgumentException($"index of rank {index.Length} for tensor of shape {ShapeString(_shape)}");
        int flat = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
                throw new IndexOutOfRangeException($"index {index[i]} out of range for dimension {i} of size {_shape[i]}");
            flat = flat * _shape[i] + index[i];
        }
        return flat;
    }

    /// <summary>A view with another shape of the same element count; one dimension may be -1.</summary>
    public Tensor Reshape(params int[] shape)
    {
        int infer = Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < shape.Length; i++) if (i != infer) known *= shape[i];
            shape = (int[])shape.Clone();
            shape[infer] = known == 0 ? 0 : (int)(Length / known);
        }
        long n = 1;
        foreach (int d in shape) n *= d;
        if (n != Length) throw new ArgumentException($"cannot reshape {ShapeString(_shape)} to {ShapeString(shape)}");
        return new Tensor(Data, Offset, shape);
    }

    /// <summary>A view of rows [start, start+count) of the leading dimension.</summary>
    public Tensor Slice(int start, int count)
    {
        if (Rank == 0) throw new InvalidOperationException("cannot slice a scalar");
        if (start < 0 || count < 0 || start + count > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside dimension of size {_shape[0]}");
        int inner = _shape[0] == 0 ? 0 : Length / _shape[0];
        var shape = Shape;
        shape[0] = count;
        return new Tensor(Data, Offset + start * inner, shape);
    }

    /// <summary>A view of row <paramref name="index"/> of the leading dimension, rank reduced by one.</summary>
    public Tensor Row(int index)
    {
        var s = Slice(index, 1);
        return new Tensor(Data, s.Offset, _shape[1..]);
    }

    public Tensor Clone() => FromSpan(ReadOnlySpan, _shape);

    public void Fill(float value) => Span.Fill(value);

    public void CopyFrom(Tensor source)
    {
        if (!SameShape(source)) throw new ArgumentException($"shape {ShapeString(source._shape)} does not match {ShapeString(_shape)}");
        source.ReadOnlySpan.CopyTo(Span);
    }

    public bool SameShape(Tensor other) => _shape.AsSpan().SequenceEqual(other._shape);

    public bool HasShape(params ReadOnlySpan<int> shape) => _shape.AsSpan().SequenceEqual(shape);

    /// <summary>Swaps the first two dimensions into a new tensor ([A, B, ...] to [B, A, ...]).</summary>
    public Tensor TransposeLeading()
    {
        if (Rank < 2) throw new InvalidOperationException("need rank >= 2");
        int a = _shape[0], b = _shape[1], inner = a * b == 0 ? 0 : Length / (a * b);
        var shape = Shape;
        (shape[0], shape[1]) = (b, a);
        var result = Zeros(shape);
        var src = ReadOnlySpan;
        var dst = result.Span;
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                src.Slice((i * b + j) * inner, inner).CopyTo(dst.Slice((j * a + i) * inner, inner));
        return result;
    }

    public override string ToString() => $"Tensor{ShapeString(_shape)}";

    public static string ShapeString(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
