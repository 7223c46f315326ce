using System.Buffers.Binary;
using System.Text;
using Gyre.IO;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.IO;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-st-" + Guid.NewGuid().ToString("N"));

    public SafetensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers: files written byte by byte, independent of the writer under test.
    // ------------------------------------------------------------------------------------------------

    /// <summary>[u64 LE length][header, unpadded][data].</summary>
    private static byte[] Image(string header, byte[] data) => Image(Encoding.UTF8.GetBytes(header), data);

    private static byte[] Image(byte[] header, byte[] data, ulong? declaredLength = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private string Put(string fileName, byte[] bytes)
    {
        string path = Path.Combine(_dir, fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static Tensor Random(int seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var rng = new Random(seed);
        foreach (ref float v in t.Span) v = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    private static void AssertSameBits(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ReadOnlySpan;
        var a = actual.ReadOnlySpan;
        for (int i = 0; i < e.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(e[i]), BitConverter.SingleToInt32Bits(a[i]));
    }

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Torch", name);

    // ------------------------------------------------------------------------------------------------
    // Round trip
    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void RoundTrip_KeepsNamesOrderShapesBitsAndMetadata()
    {
        var special = Tensor.FromSpan([float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon, float.MaxValue], 6);
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("z.last_first", Random(1, 3, 4)),
            new("scalar", Tensor.FromSpan([3.5f])),
            new("empty", Tensor.Zeros(0)),
            new("zero_middle", Tensor.Zeros(2, 0, 3)),
            new("rnn.weight+ü", Random(2, 2, 3, 4)),
            new("special", special),
            new("a", Random(3, 5)),
        };
        var metadata = new Dictionary<string, string> { ["kind"] = "gru", ["ünïcode"] = "quote \" and \\ and \n newline" };
        string path = Path.Combine(_dir, "round.safetensors");

        Safetensors.Write(path, tensors, metadata);
        var file = Safetensors.Read(path);

        Assert.Equal(tensors.Select(kv => kv.Key), file.Names);
        Assert.Equal(tensors.Count, file.Tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            AssertSameBits(tensor, file.Get(name));
            Assert.Equal("F32", file.StoredDType(name));
        }
        Assert.Equal(0, file.Get("scalar").Rank);
        Assert.Equal(3.5f, file.Get("scalar").ReadOnlySpan[0]);
        Assert.Equal([2, 0, 3], file.Get("zero_middle").Shape);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), file.Metadata.OrderBy(kv => kv.Key));
        Assert.True(file.TryGet("a", out var a));
        Assert.Equal(5, a.Length);
        Assert.False(file.TryGet("missing", out _));
    }

    [Fact]
    public void Write_HeaderIsSpacePaddedTo8BytesAndOffsetsTile()
    {
        string path = Path.Combine(_dir, "layout.safetensors");
        Safetensors.Write(path, [new("w", Random(4, 3)), new("b", Random(5, 2, 2))]);
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        Assert.Equal((long)(8 + n + 4 * 3 + 4 * 4), bytes.LongLength);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{", header);
        Assert.Contains("\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}", header);
        Assert.Contains("\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[12,28]}", header);
        string json = header.TrimEnd(' ');
        Assert.EndsWith("}", json);
        Assert.InRange(header.Length - json.Length, 0, 7); // only the padding follows the JSON
        Assert.DoesNotContain("__metadata__", header); // no metadata given, none written
        // The data buffer is the floats, little-endian, in write order.
        Assert.Equal(BitConverter.SingleToInt32Bits(Random(4, 3).ReadOnlySpan[0]),
            BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8 + (int)n)));
    }

    [Fact]
    public void Write_IsDeterministic_StreamAndFileGiveTheSameBytes()
    {
        var tensors = new KeyValuePair<string, Tensor>[] { new("x", Random(7, 4, 5)), new("y", Random(8, 1)) };
        var meta = new Dictionary<string, string> { ["k"] = "v" };
        string path = Path.Combine(_dir, "det.safetensors");
        Safetensors.Write(path, tensors, meta);
        var first = File.ReadAllBytes(path);
        Safetensors.Write(path, tensors, meta);
        Assert.Equal(first, File.ReadAllBytes(path));
        var ms = new MemoryStream();
        Safetensors.Write(ms, tensors, meta);
        Assert.Equal(first, ms.ToArray());
    }

    [Fact]
    public void Write_ViewsWriteOnlyTheirWindow()
    {
        var big = Random(9, 4, 3);
        var row = big.Slice(2, 1); // [1, 3] view at offset 6
        var ms = new MemoryStream();
        Safetensors.Write(ms, [new("row", row)]);
        ms.Position = 0;
        var back = Safetensors.Read(ms, "mem");
        AssertSameBits(row.Clone(), back.Get("row"));
    }

    [Fact]
    public void Write_RejectsDuplicateAndReservedNames()
    {
        string path = Path.Combine(_dir, "dup.safetensors");
        var ex = Assert.Throws<ArgumentException>(() => Safetensors.Write(path, [new("w", Random(1, 2)), new("w", Random(2, 2))]));
        Assert.Contains("'w'", ex.Message);
        Assert.Throws<ArgumentException>(() => Safetensors.Write(path, [new("__metadata__", Random(1, 2))]));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Read_NonSeekableStream()
    {
        var ms = new MemoryStream();
        Safetensors.Write(ms, [new("w", Random(3, 2, 2))], new Dictionary<string, string> { ["a"] = "b" });
        var file = Safetensors.Read(new ForwardOnlyStream(ms.ToArray()), "pipe");
        AssertSameBits(Random(3, 2, 2), file.Get("w"));
        Assert.Equal("b", file.Metadata["a"]);
    }

    [Fact]
    public void Read_StreamFromCurrentPosition()
    {
        var ms = new MemoryStream();
        ms.Write([1, 2, 3]);
        Safetensors.Write(ms, [new("w", Random(3, 4))]);
        ms.Position = 3;
        AssertSameBits(Random(3, 4), Safetensors.Read(ms, "offset").Get("w"));
    }

    [Fact]
    public void Get_MissingNameListsWhatIsThere()
    {
        var ms = new MemoryStream();
        Safetensors.Write(ms, [new("alpha", Random(1, 1)), new("beta", Random(2, 1))]);
        ms.Position = 0;
        var file = Safetensors.Read(ms, "names.safetensors");
        var ex = Assert.Throws<KeyNotFoundException>(() => file.Get("gamma"));
        Assert.Contains("names.safetensors", ex.Message);
        Assert.Contains("'gamma'", ex.Message);
        Assert.Contains("alpha, beta", ex.Message);
    }

    // ------------------------------------------------------------------------------------------------
    // Atomic write
    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void Write_LeavesNoTemporaryFiles_AndReplacesTheTarget()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Safetensors.Write(path, [new("w", Random(1, 8))]);
        Safetensors.Write(path, [new("v", Random(2, 3))]);
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
        var file = Safetensors.Read(path);
        Assert.Equal(["v"], file.Names);
    }

    [Fact]
    public void Write_ThatFailsWhileEnumerating_LeavesTheExistingFileUnchanged()
    {
        string path = Path.Combine(_dir, "keep.safetensors");
        Safetensors.Write(path, [new("w", Random(1, 8))]);
        byte[] before = File.ReadAllBytes(path);

        static IEnumerable<KeyValuePair<string, Tensor>> Failing()
        {
            yield return new("a", Random(5, 1000));
            throw new InvalidOperationException("tensor source failed");
        }
        var ex = Assert.Throws<InvalidOperationException>(() => Safetensors.Write(path, Failing()));
        Assert.Equal("tensor source failed", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Write_ThatFailsAtTheRename_RemovesItsTemporaryFile()
    {
        // The target is a folder, so the temporary file is fully written and the rename then fails:
        // the cleanup path must run and leave only the folder.
        string path = Path.Combine(_dir, "occupied");
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => Safetensors.Write(path, [new("w", Random(1, 8))]));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
        Assert.Empty(Directory.GetFileSystemEntries(path));
    }

    // ------------------------------------------------------------------------------------------------
    // Other dtypes, written by hand with known bit patterns
    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void Read_F16_ConvertsKnownValues()
    {
        ushort[] bits = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x7C00, 0x0001, 0x8000, 0x3555];
        float[] expected = [1f, -2f, 0.5f, 65504f, float.PositiveInfinity, MathF.Pow(2, -24), -0f, 0.333251953125f];
        var data = new byte[2 * bits.Length];
        for (int i = 0; i < bits.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), bits[i]);
        string path = Put("half.safetensors", Image("{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]}}", data));

        var file = Safetensors.Read(path);
        var h = file.Get("h");
        Assert.Equal([2, 4], h.Shape);
        Assert.Equal("F16", file.StoredDType("h"));
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(h.ReadOnlySpan[i]));
    }

    [Fact]
    public void Read_BF16_ConvertsKnownValues()
    {
        ushort[] bits = [0x3F80, 0xC020, 0x4049, 0x7F80, 0x0000, 0x8000, 0x3E80];
        float[] expected = [1f, -2.5f, 3.140625f, float.PositiveInfinity, 0f, -0f, 0.25f];
        var data = new byte[2 * bits.Length];
        for (int i = 0; i < bits.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), bits[i]);
        // An F32 tensor first, so the BF16 one starts mid-buffer.
        var f32 = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(f32, BitConverter.SingleToInt32Bits(42f));
        string header = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      + "\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[4,18]}}";
        string path = Put("bf16.safetensors", Image(header, [.. f32, .. data]));

        var file = Safetensors.Read(path);
        Assert.Equal(["a", "b"], file.Names);
        Assert.Equal(42f, file.Get("a").ReadOnlySpan[0]);
        Assert.Equal("pt", file.Metadata["format"]);
        var b = file.Get("b").ReadOnlySpan;
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(b[i]));
    }

    [Fact]
    public void Read_F64_RoundsToNearestFloat()
    {
        double[] values = [0.1, -1e-3, 1e40, -0.0, 123456789.123, double.NegativeInfinity];
        var data = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(8 * i), BitConverter.DoubleToInt64Bits(values[i]));
        string path = Put("f64.safetensors", Image("{\"d\":{\"dtype\":\"F64\",\"shape\":[3,2],\"data_offsets\":[0,48]}}", data));

        var d = Safetensors.Read(path).Get("d").ReadOnlySpan;
        Assert.Equal(0x3DCCCCCD, BitConverter.SingleToInt32Bits(d[0])); // 0.1f
        Assert.Equal((float)-1e-3, d[1]);
        Assert.Equal(float.PositiveInfinity, d[2]);
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(d[3]));
        Assert.Equal(123456792f, d[4]);
        Assert.Equal(float.NegativeInfinity, d[5]);
    }

    [Fact]
    public void Read_LargeF16TensorSpanningSeveralChunks()
    {
        const int n = 100_003; // more than one 64 KiB conversion chunk, odd tail
        var data = new byte[2 * n];
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2 * i), (Half)(i % 2048));
        string path = Put("bigh.safetensors", Image($"{{\"h\":{{\"dtype\":\"F16\",\"shape\":[{n}],\"data_offsets\":[0,{2 * n}]}}}}", data));
        var h = Safetensors.Read(path).Get("h").ReadOnlySpan;
        for (int i = 0; i < n; i++) Assert.Equal(i % 2048, h[i]);
    }

    // ------------------------------------------------------------------------------------------------
    // The libtorch fixture
    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void Read_TorchGruFixture_MatchesItsReadme()
    {
        string path = FixturePath("gru_i5_h7_l1_b3_t11_s1.safetensors");
        var file = Safetensors.Read(path);

        Assert.Equal("gru", file.Metadata["kind"]);
        Assert.Equal("5", file.Metadata["input_size"]);
        Assert.Equal("7", file.Metadata["hidden_size"]);
        Assert.Equal("1", file.Metadata["num_layers"]);
        Assert.Equal("false", file.Metadata["bidirectional"]);
        Assert.Equal("true", file.Metadata["batch_first"]);
        Assert.Equal("3", file.Metadata["batch"]);
        Assert.Equal("11", file.Metadata["seq_len"]);

        var shapes = new Dictionary<string, int[]>
        {
            ["weight_ih_l0"] = [21, 5], ["weight_hh_l0"] = [21, 7], ["bias_ih_l0"] = [21], ["bias_hh_l0"] = [21],
            ["x"] = [3, 11, 5], ["h0"] = [1, 3, 7], ["y"] = [3, 11, 7], ["h_n"] = [1, 3, 7],
            ["dy"] = [3, 11, 7], ["dh_n"] = [1, 3, 7],
            ["grad.weight_ih_l0"] = [21, 5], ["grad.weight_hh_l0"] = [21, 7], ["grad.bias_ih_l0"] = [21],
            ["grad.bias_hh_l0"] = [21], ["grad.x"] = [3, 11, 5], ["grad.h0"] = [1, 3, 7],
        };
        Assert.Equal(shapes.Keys.Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in shapes)
        {
            var t = file.Get(name);
            Assert.Equal(shape, t.Shape);
            Assert.Equal("F32", file.StoredDType(name));
            foreach (float v in t.ReadOnlySpan) Assert.True(float.IsFinite(v), $"{name} holds {v}");
        }
        // Parameters are random, not zero; PyTorch's GRU init bounds them by 1/sqrt(H).
        var w = file.Get("weight_ih_l0").ReadOnlySpan;
        Assert.Contains(w.ToArray(), v => v != 0);
        foreach (float v in w) Assert.True(MathF.Abs(v) <= 1 / MathF.Sqrt(7) + 1e-6f);
        // h_n of a one-layer unidirectional GRU is the last time step of y.
        var y = file.Get("y");
        var hn = file.Get("h_n");
        for (int b = 0; b < 3; b++)
            for (int j = 0; j < 7; j++)
                Assert.Equal(y[b, 10, j], hn[0, b, j], 1e-6f);
    }

    [Theory]
    [InlineData("gru_i3_h16_l3_b4_t20_s7.safetensors", "gru", "weight_hh_l2", new[] { 48, 16 })]
    [InlineData("gru_i4_h6_l2_bi_b2_t9_s3.safetensors", "gru", "weight_ih_l1_reverse", new[] { 18, 12 })]
    [InlineData("gru_i5_h7_l1_b3_t11_s1.safetensors", "gru", "weight_ih_l0", new[] { 21, 5 })]
    [InlineData("grucell_i5_h7_l1_b3_t1_s5.safetensors", "grucell", "weight_ih", new[] { 21, 5 })]
    [InlineData("lstm_i4_h6_l2_bi_b2_t9_s4.safetensors", "lstm", "c_n", new[] { 4, 2, 6 })]
    [InlineData("lstm_i5_h7_l1_b3_t11_s2.safetensors", "lstm", "weight_hh_l0", new[] { 28, 7 })]
    [InlineData("lstmcell_i5_h7_l1_b3_t1_s6.safetensors", "lstmcell", "c_next", new[] { 3, 7 })]
    public void Read_EveryTorchFixture(string fileName, string kind, string tensor, int[] shape)
    {
        var file = Safetensors.Read(FixturePath(fileName));
        Assert.Equal(kind, file.Metadata["kind"]);
        Assert.Equal(shape, file.Get(tensor).Shape);
    }

    [Fact]
    public void Fixture_SurvivesARewrite()
    {
        var original = Safetensors.Read(FixturePath("gru_i5_h7_l1_b3_t11_s1.safetensors"));
        string path = Path.Combine(_dir, "copy.safetensors");
        Safetensors.Write(path, original.Names.Select(n => new KeyValuePair<string, Tensor>(n, original.Get(n))), original.Metadata);
        var copy = Safetensors.Read(path);
        Assert.Equal(original.Names, copy.Names);
        Assert.Equal(original.Metadata.OrderBy(kv => kv.Key), copy.Metadata.OrderBy(kv => kv.Key));
        foreach (var n in original.Names) AssertSameBits(original.Get(n), copy.Get(n));
    }

    // ------------------------------------------------------------------------------------------------
    // Malformed files: each rejected with a one-line message naming the file (and tensor)
    // ------------------------------------------------------------------------------------------------

    private const string File0 = "bad.safetensors";

    private InvalidDataException Rejects(byte[] bytes, string? tensor, string expectedFragment)
    {
        string path = Put(File0, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.Contains(File0, ex.Message);
        Assert.Contains(expectedFragment, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain('\r', ex.Message);
        if (tensor is not null)
        {
            Assert.Contains($"'{tensor}'", ex.Message);
            Assert.Equal(tensor, ex.Data["tensor"]);
        }
        Assert.Equal(path, ex.Data["file"]);
        // The same bytes through the stream overload name the display name.
        var ex2 = Assert.Throws<InvalidDataException>(() => Safetensors.Read(new MemoryStream(bytes), "in-memory-image"));
        Assert.Contains("in-memory-image", ex2.Message);
        return ex;
    }

    private static byte[] One(string entry, int dataBytes) => Image("{\"t\":" + entry + "}", new byte[dataBytes]);

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    public void Rejects_FileShorterThan8Bytes(int length) => Rejects(new byte[length], null, "shorter than the 8-byte");

    [Fact]
    public void Rejects_HeaderLengthOverLimit_WithoutAllocatingIt()
        => Rejects(Image(Encoding.UTF8.GetBytes("{}"), [], declaredLength: ulong.MaxValue), null, "exceeds the 100000000-byte limit");

    [Fact]
    public void Rejects_HeaderLengthJustOverLimit()
        => Rejects(Image(Encoding.UTF8.GetBytes("{}"), [], declaredLength: 100_000_001), null, "limit");

    [Fact]
    public void Rejects_HeaderLengthBeyondFile()
        => Rejects(Image(Encoding.UTF8.GetBytes("{}"), new byte[4], declaredLength: 7), null, "exceeds the 6 bytes after the length prefix");

    [Fact]
    public void Rejects_InvalidUtf8()
        => Rejects(Image([.. "{\"t"u8.ToArray(), 0xFF, .. "\":{}}"u8.ToArray()], []), null, "not valid UTF-8");

    [Theory]
    [InlineData("{\"t\":", "not valid JSON")]
    [InlineData("nonsense", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("   ", "not valid JSON")]
    [InlineData("{} {}", "not valid JSON")]
    [InlineData("[]", "header is a JSON array, not an object")]
    [InlineData("\"text\"", "header is a JSON string, not an object")]
    [InlineData("3", "header is a JSON number, not an object")]
    public void Rejects_HeaderThatIsNotAJsonObject(string header, string fragment) => Rejects(Image(header, []), null, fragment);

    [Theory]
    [InlineData("{\"shape\":[1],\"data_offsets\":[0,4]}", "no dtype")]
    [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", "no shape")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1]}", "no data_offsets")]
    [InlineData("[1]", "entry is a JSON array")]
    [InlineData("null", "entry is a JSON null")]
    [InlineData("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}", "dtype is a JSON number")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}", "shape is a JSON string")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":{\"0\":1},\"data_offsets\":[0,4]}", "shape is a JSON object")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}", "not an array [begin, end]")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}", "not an array [begin, end]")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}", "not an array [begin, end]")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}", "begin is \"0\"")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}", "end is 4.5")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}", "begin is -4")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}", "not a non-negative integer")]
    [InlineData("{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}", "field 'dtype' appears twice")]
    public void Rejects_MalformedEntry(string entry, string fragment) => Rejects(One(entry, 4), "t", fragment);

    [Theory]
    [InlineData("[-1]", "dimension 0 is -1")]
    [InlineData("[2,1.5]", "dimension 1 is 1.5")]
    [InlineData("[2,\"3\"]", "dimension 1 is \"3\"")]
    [InlineData("[null]", "dimension 0 is null")]
    [InlineData("[[1]]", "dimension 0 is [1]")]
    [InlineData("[1e2]", "dimension 0 is 1e2")]
    [InlineData("[3000000000]", "more than Gyre's limit")]
    public void Rejects_BadShapeDimension(string shape, string fragment)
        => Rejects(One($"{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[0,4]}}", 4), "t", fragment);

    [Fact]
    public void Rejects_HugeShapeWithoutOverflow()
    {
        // 2147483647^5 overflows 64 bits; the product check must stop before that, not wrap to a small number.
        Rejects(One("{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}", 4),
            "t", "more than 2147483647 elements");
        // 65536^4 = 2^64 wraps to exactly 0 in unchecked arithmetic, which would match [0, 0].
        Rejects(One("{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,0]}", 0), "t", "more than");
    }

    [Fact]
    public void Accepts_HugeDimensionsTimesZero()
    {
        string path = Put("zero.safetensors", One("{\"dtype\":\"F32\",\"shape\":[2147483647,0,2147483647],\"data_offsets\":[0,0]}", 0));
        Assert.Equal([2147483647, 0, 2147483647], Safetensors.Read(path).Get("t").Shape);
    }

    [Theory]
    [InlineData("F17", "unknown dtype 'F17'")]
    [InlineData("f32", "unknown dtype 'f32'")]
    [InlineData("", "unknown dtype ''")]
    public void Rejects_UnknownDtype(string dtype, string fragment)
        => Rejects(One($"{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "t", fragment);

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("I32", 4)]
    [InlineData("U8", 1)]
    [InlineData("BOOL", 1)]
    [InlineData("F8_E4M3", 1)]
    public void Rejects_UnsupportedDtype_NamingIt(string dtype, int size)
    {
        var ex = Rejects(One($"{{\"dtype\":\"{dtype}\",\"shape\":[2],\"data_offsets\":[0,{2 * size}]}}", 2 * size), "t", $"dtype {dtype} is not supported");
        Assert.Contains("F32, F16, BF16, F64", ex.Message);
    }

    [Fact]
    public void Rejects_BeginAfterEnd()
        => Rejects(One("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}", 8), "t", "begin after end");

    [Fact]
    public void Rejects_EndBeyondDataBuffer()
        => Rejects(One("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}", 12), "t", "end beyond the 12-byte data buffer");

    [Theory]
    [InlineData("F32", "[3]", 8, "span 8 bytes but F32 [3] needs 12")]
    [InlineData("F16", "[2,2]", 4, "span 4 bytes but F16 [2, 2] needs 8")]
    [InlineData("F64", "[]", 4, "span 4 bytes but F64 [] needs 8")]
    [InlineData("F32", "[0]", 4, "span 4 bytes but F32 [0] needs 0")]
    public void Rejects_ByteSizeNotNumelTimesDtypeSize(string dtype, string shape, int bytes, string fragment)
        => Rejects(One($"{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[0,{bytes}]}}", bytes), "t", fragment);

    [Fact]
    public void Rejects_GapBetweenTensors()
        => Rejects(Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]),
            "b", "leave a gap after byte 4");

    [Fact]
    public void Rejects_GapAtTheStart()
        => Rejects(Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]), "a", "gap after byte 0");

    [Fact]
    public void Rejects_OverlappingTensors()
        => Rejects(Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]),
            "b", "overlap the previous tensor, which ends at 8");

    [Fact]
    public void Rejects_AliasedTensors()
        => Rejects(Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
            "b", "overlap");

    [Fact]
    public void Rejects_TrailingBytesAfterTheLastTensor()
        => Rejects(One("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 8), null, "tensors cover 4 bytes but the data buffer holds 8");

    [Fact]
    public void Rejects_DataWithNoTensors()
        => Rejects(Image("{}", new byte[4]), null, "tensors cover 0 bytes but the data buffer holds 4");

    [Fact]
    public void Accepts_EmptyFileWithOnlyMetadata()
    {
        string path = Put("empty.safetensors", Image("{\"__metadata__\":{\"a\":\"b\"}}", []));
        var file = Safetensors.Read(path);
        Assert.Empty(file.Names);
        Assert.Equal("b", file.Metadata["a"]);
    }

    [Fact]
    public void Accepts_EmptyTensorsAnywhereInTheTiling()
    {
        // [2,2] empty at offset 4 sits between two full tensors; "z" is empty at the very end.
        string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[4,4]},"
                      + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[8,8]}}";
        var file = Safetensors.Read(Put("empties.safetensors", Image(header, new byte[8])));
        Assert.Equal(["a", "e", "b", "z"], file.Names);
        Assert.Equal(0, file.Get("e").Length);
    }

    [Fact]
    public void Rejects_DuplicateTensorName()
        => Rejects(Image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]),
            "w", "appears twice");

    [Theory]
    [InlineData("[]", "__metadata__ is a JSON array")]
    [InlineData("\"x\"", "__metadata__ is a JSON string")]
    [InlineData("null", "__metadata__ is a JSON null")]
    [InlineData("{\"n\":1}", "key 'n' holds a JSON number, not a string")]
    [InlineData("{\"n\":{\"a\":\"b\"}}", "key 'n' holds a JSON object")]
    [InlineData("{\"n\":\"a\",\"n\":\"b\"}", "key 'n' appears twice")]
    public void Rejects_BadMetadata(string metadata, string fragment)
        => Rejects(Image($"{{\"__metadata__\":{metadata}}}", []), null, fragment);

    [Fact]
    public void Rejects_TwoMetadataEntries()
        => Rejects(Image("{\"__metadata__\":{},\"__metadata__\":{}}", []), null, "two __metadata__");

    [Fact]
    public void Rejects_ControlCharactersInNames_StayOnOneLine()
    {
        var ex = Rejects(Image("{\"bad\\nname\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), null, "no data_offsets");
        Assert.Contains("bad\\u000aname", ex.Message);
    }

    [Fact]
    public void TruncatedFixture_IsRejectedAtEveryLength()
    {
        // Every prefix of a real file is malformed in some way; none may crash or read out of range.
        byte[] full = File.ReadAllBytes(FixturePath("grucell_i5_h7_l1_b3_t1_s5.safetensors"));
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(full);
        for (int length = 0; length < full.Length; length += length < 8 + (int)n + 16 ? 1 : 37)
        {
            var ex = Assert.Throws<InvalidDataException>(() => Safetensors.Read(new MemoryStream(full, 0, length), "cut"));
            Assert.StartsWith("cut: ", ex.Message);
        }
        Assert.NotEmpty(Safetensors.Read(new MemoryStream(full), "whole").Names);
    }

    /// <summary>A read-only stream that cannot seek or report its length, like a pipe.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count)
        {
            count = Math.Min(Math.Min(count, 7), bytes.Length - _position); // short reads on purpose
            Array.Copy(bytes, _position, buffer, offset, count);
            _position += count;
            return count;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
