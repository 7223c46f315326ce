using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gyre.Tensors;

namespace Gyre.IO;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors):
/// <code>
/// [u64 little-endian N] [N bytes UTF-8 JSON header, space-padded] [data buffer]
/// header = { "__metadata__"?: {string: string},
///            name: {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
/// </code>
/// Offsets are relative to the first byte after the header; every tensor is stored row-major,
/// little-endian, and byte size = numel · sizeof(dtype).
/// <para>
/// Reading: F32 is copied as is; F16 (IEEE half), BF16 (upper half of a float32) and F64 (rounded to
/// nearest) are converted to float32. Every other dtype the format defines (I64, I32, I16, I8, U8, U16,
/// U32, U64, BOOL, F8_E4M3, F8_E5M2, F8_E8M0, C64) is validated for layout like the rest and then
/// rejected, naming the file, tensor and dtype: Gyre holds only float32 tensors and a silent cast of
/// an integer buffer would hide a wrong file. A dtype the format does not define is rejected as unknown.
/// </para>
/// <para>
/// The reader trusts nothing in the file: every size is checked against the file's length before
/// anything is allocated, arithmetic is done in checked 64-bit, and the tensors must tile the data
/// buffer exactly (sorted by begin: no gap, no overlap, nothing after the last), as the reference
/// implementation demands. Each problem is an <see cref="InvalidDataException"/> with a one-line message
/// naming the file and, where one is involved, the tensor.
/// </para>
/// <para>
/// Writing: always F32, tensors in the order given (no sorting: the caller's order is the file's order,
/// which keeps output deterministic and lets a model file read in its natural parameter order), with
/// <c>__metadata__</c> first when present, and the header padded with spaces to a multiple of 8 bytes so
/// the data buffer is 8-byte aligned, as the reference writer does. The bytes go to a temporary file in
/// the target's folder which is then renamed over the target, so a crash or an exception never leaves a
/// half-written file behind.
/// </para>
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The key in the header that holds string metadata rather than a tensor.</summary>
    public const string MetadataKey = "__metadata__";

    // Every dtype the format defines, with its element size in bytes. Only the first four are readable.
    private static readonly Dictionary<string, int> s_dtypeSizes = new(StringComparer.Ordinal)
    {
        ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["F64"] = 8,
        ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1,
        ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1,
        ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1, ["F8_E8M0"] = 1, ["C64"] = 8,
    };

    private static bool IsReadable(string dtype) => dtype is "F32" or "F16" or "BF16" or "F64";

    private const string ReadableList = "F32, F16, BF16, F64";

    // ------------------------------------------------------------------------------------------------
    // Reading
    // ------------------------------------------------------------------------------------------------

    /// <summary>Reads every tensor of the safetensors file at <paramref name="path"/> as float32.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or holds an unsupported dtype.</exception>
    public static SafetensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 1 << 16, FileOptions.SequentialScan);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads a safetensors image from <paramref name="stream"/>, from its current position to its end.
    /// <paramref name="displayName"/> names the source in error messages. A stream that cannot seek is
    /// first copied into memory, so its length can be checked before the header is trusted.
    /// </summary>
    public static SafetensorsFile Read(Stream stream, string displayName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(displayName);
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }

        string file = displayName;
        long total = stream.Length - stream.Position;
        if (total < 8) throw Fail(file, null, $"file is {total} bytes, shorter than the 8-byte header length");

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        // A text file read as safetensors gives an absurd length; say what the file looks like instead.
        if (headerLength > (ulong)(total - 8) && LooksLikeText(lengthBytes))
            throw Fail(file, null, "not a safetensors file (it looks like text/CSV)");
        if (headerLength > MaxHeaderBytes)
            throw Fail(file, null, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        if (headerLength > (ulong)(total - 8))
            throw Fail(file, null, $"header length {headerLength} exceeds the {total - 8} bytes after the length prefix");

        var header = new byte[(int)headerLength];
        stream.ReadExactly(header);
        long dataLength = total - 8 - (long)headerLength;

        var (metadata, entries) = ParseHeader(file, header, dataLength);

        // Tiling: sorted by begin (then end, so an empty tensor sits before a full one at the same
        // offset), each tensor must start where the previous ended, and the last must end the buffer.
        var byOffset = entries.ToArray();
        Array.Sort(byOffset, static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        foreach (var e in byOffset)
        {
            if (e.Begin < expected)
                throw Fail(file, e.Name, $"data_offsets [{e.Begin}, {e.End}] overlap the previous tensor, which ends at {expected}");
            if (e.Begin > expected)
                throw Fail(file, e.Name, $"data_offsets [{e.Begin}, {e.End}] leave a gap after byte {expected} of the data buffer");
            expected = e.End;
        }
        if (expected != dataLength)
            throw Fail(file, null, $"tensors cover {expected} bytes but the data buffer holds {dataLength}");

        foreach (var e in entries)
            if (!IsReadable(e.DType))
                throw Fail(file, e.Name, $"dtype {e.DType} is not supported (Gyre reads {ReadableList} as float32)");

        // The buffer is tiled in begin order, so one sequential pass reads it: no seeks.
        var tensors = new Dictionary<string, Tensor>(entries.Count, StringComparer.Ordinal);
        byte[] scratch = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            foreach (var e in byOffset)
            {
                var data = new float[e.Numel];
                try
                {
                    ReadInto(stream, e.DType, data, scratch);
                }
                catch (EndOfStreamException)
                {
                    throw Fail(file, e.Name, "file ended inside the tensor's data (was it truncated while being read?)");
                }
                tensors[e.Name] = new Tensor(data, e.Shape);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        var names = new string[entries.Count];
        var dtypes = new Dictionary<string, string>(entries.Count, StringComparer.Ordinal);
        for (int i = 0; i < entries.Count; i++)
        {
            names[i] = entries[i].Name;
            dtypes[entries[i].Name] = entries[i].DType;
        }
        return new SafetensorsFile(file, metadata, names, tensors, dtypes);
    }

    private sealed record Entry(string Name, string DType, int[] Shape, int Numel, long Begin, long End);

    private static (Dictionary<string, string> Metadata, List<Entry> Entries) ParseHeader(string file, byte[] header, long dataLength)
    {
        // JsonDocument would accept invalid UTF-8 inside strings until they are decoded; check it all first.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw Fail(file, null, "header is not valid UTF-8");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Fail(file, null, $"header is not valid JSON: {OneLine(ex.Message)}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Fail(file, null, $"header is a JSON {Kind(root)}, not an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            // JsonDocument keeps duplicate keys and lookups silently pick one: catch them explicitly.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            try
            {
                foreach (var property in root.EnumerateObject())
                {
                    string name = property.Name;
                    if (name == MetadataKey)
                    {
                        if (sawMetadata) throw Fail(file, null, $"header has two {MetadataKey} entries");
                        sawMetadata = true;
                        ParseMetadata(file, property.Value, metadata);
                        continue;
                    }
                    if (!seen.Add(name)) throw Fail(file, name, "tensor name appears twice in the header");
                    entries.Add(ParseEntry(file, name, property.Value, dataLength));
                }
            }
            catch (InvalidOperationException)
            {
                // The parser accepts an escaped lone surrogate ("\ud800") and only decoding the string
                // throws; no valid UTF-8 file can hold one, so the header is malformed.
                throw Fail(file, null, "header holds a string with an unpaired UTF-16 surrogate escape");
            }
            return (metadata, entries);
        }
    }

    private static void ParseMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(file, null, $"{MetadataKey} is a JSON {Kind(value)}, not an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Fail(file, null, $"{MetadataKey} key {Quote(item.Name)} holds a JSON {Kind(item.Value)}, not a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Fail(file, null, $"{MetadataKey} key {Quote(item.Name)} appears twice");
        }
    }

    /// <summary>
    /// True when <paramref name="prefix"/> (a file's first bytes) is printable text: tabs, line breaks and
    /// ASCII 0x20–0x7E, or a UTF-8 byte order mark. A real length prefix of a safetensors file under 4 GB
    /// has zero bytes in its high half, so it is never taken for text.
    /// </summary>
    public static bool LooksLikeText(ReadOnlySpan<byte> prefix)
    {
        if (prefix.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) return true;
        foreach (byte b in prefix)
            if (b is not (0x09 or 0x0A or 0x0D) and (< 0x20 or > 0x7E)) return false;
        return prefix.Length > 0;
    }

    private static Entry ParseEntry(string file, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(file, name, $"entry is a JSON {Kind(value)}, not an object with dtype, shape and data_offsets");

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in value.EnumerateObject())
        {
            if (!keys.Add(field.Name)) throw Fail(file, name, $"field {Quote(field.Name)} appears twice");
            switch (field.Name)
            {
                case "dtype": dtypeElement = field.Value; break;
                case "shape": shapeElement = field.Value; break;
                case "data_offsets": offsetsElement = field.Value; break;
                // Other fields are ignored, as the reference reader does.
            }
        }
        if (dtypeElement is not { } dt) throw Fail(file, name, "entry has no dtype");
        if (shapeElement is not { } sh) throw Fail(file, name, "entry has no shape");
        if (offsetsElement is not { } off) throw Fail(file, name, "entry has no data_offsets");

        if (dt.ValueKind != JsonValueKind.String) throw Fail(file, name, $"dtype is a JSON {Kind(dt)}, not a string");
        string dtype = dt.GetString()!;
        if (!s_dtypeSizes.TryGetValue(dtype, out int elementSize))
            throw Fail(file, name, $"unknown dtype {Quote(dtype)}");

        if (sh.ValueKind != JsonValueKind.Array) throw Fail(file, name, $"shape is a JSON {Kind(sh)}, not an array");
        var shape = new int[sh.GetArrayLength()];
        int axis = 0;
        bool hasZero = false;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw Fail(file, name, $"shape dimension {axis} is {OneLine(d.GetRawText())}, not a non-negative integer");
            if (dim > int.MaxValue)
                throw Fail(file, name, $"shape dimension {axis} is {dim}, more than Gyre's limit of {int.MaxValue}");
            shape[axis++] = (int)dim;
            hasZero |= dim == 0;
        }
        // A zero anywhere makes numel 0 however large the rest is; otherwise stop as soon as the
        // product passes int.MaxValue (a Tensor's limit) so no shape can overflow the arithmetic.
        long numel = 1;
        if (hasZero) numel = 0;
        else
            foreach (int d in shape)
            {
                numel *= d;
                if (numel > int.MaxValue)
                    throw Fail(file, name, $"shape {Tensor.ShapeString(shape)} has more than {int.MaxValue} elements");
            }

        if (off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Fail(file, name, $"data_offsets is {OneLine(off.GetRawText())}, not an array [begin, end]");
        long begin = Offset(off[0], "begin"), end = Offset(off[1], "end");
        if (begin > end) throw Fail(file, name, $"data_offsets [{begin}, {end}] have begin after end");
        if (end > dataLength)
            throw Fail(file, name, $"data_offsets [{begin}, {end}] end beyond the {dataLength}-byte data buffer");
        long expectedBytes = numel * elementSize; // <= int.MaxValue * 8: no overflow
        if (end - begin != expectedBytes)
            throw Fail(file, name, $"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtype} {Tensor.ShapeString(shape)} needs {expectedBytes}");

        return new Entry(name, dtype, shape, (int)numel, begin, end);

        long Offset(JsonElement e, string which)
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
                throw Fail(file, name, $"data_offsets {which} is {OneLine(e.GetRawText())}, not a non-negative integer");
            return v;
        }
    }

    /// <summary>Fills <paramref name="destination"/> from the next numel · sizeof(dtype) bytes of the stream.</summary>
    private static void ReadInto(Stream stream, string dtype, float[] destination, byte[] scratch)
    {
        if (dtype == "F32")
        {
            stream.ReadExactly(MemoryMarshal.AsBytes(destination.AsSpan()));
            if (!BitConverter.IsLittleEndian)
            {
                var bits = MemoryMarshal.Cast<float, int>(destination.AsSpan());
                BinaryPrimitives.ReverseEndianness(bits, bits);
            }
            return;
        }

        int elementSize = s_dtypeSizes[dtype];
        int perChunk = scratch.Length / elementSize;
        for (int start = 0; start < destination.Length; start += perChunk)
        {
            int count = Math.Min(perChunk, destination.Length - start);
            var bytes = scratch.AsSpan(0, count * elementSize);
            stream.ReadExactly(bytes);
            var dst = destination.AsSpan(start, count);
            switch (dtype)
            {
                case "F16":
                    for (int i = 0; i < count; i++)
                        dst[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.Slice(2 * i));
                    break;
                case "BF16":
                    // bfloat16 is the top 16 bits of a float32, so widening is exact (NaN payloads kept).
                    for (int i = 0; i < count; i++)
                        dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2 * i)) << 16);
                    break;
                case "F64":
                    for (int i = 0; i < count; i++)
                        dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(8 * i));
                    break;
                default:
                    throw new InvalidOperationException($"no converter for dtype {dtype}");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Writing
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Writes <paramref name="tensors"/> as F32 to <paramref name="path"/>, in the order given, through a
    /// temporary file in the same folder renamed over the target (an existing file is replaced only once
    /// the new one is complete and flushed to disk).
    /// </summary>
    /// <exception cref="ArgumentException">A name is null, repeated or the reserved <c>__metadata__</c>; a tensor or metadata value is null.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) => Write(path, tensors, metadata, halfWritten: null);

    /// <summary>As <see cref="Write(string, IEnumerable{KeyValuePair{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/>;
    /// <paramref name="halfWritten"/> is called once the temporary holds the header and the first half of the
    /// tensors, flushed (the checkpoint writer's test pause, <see cref="Training.TestPause"/>).</summary>
    internal static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata, Action? halfWritten)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        // Materialise and validate before touching the disk: an enumerator or argument error must not
        // cost even a temporary file.
        var list = Materialise(tensors);
        byte[] header = BuildHeader(list, metadata);

        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{path}: has no parent folder", nameof(path));
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                WriteBody(stream, header, list, halfWritten);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes <paramref name="tensors"/> as an F32 safetensors image to <paramref name="stream"/>, in the order given.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = Materialise(tensors);
        WriteBody(stream, BuildHeader(list, metadata), list);
    }

    private static List<KeyValuePair<string, Tensor>> Materialise(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var list = new List<KeyValuePair<string, Tensor>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new ArgumentException("tensor name is null", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"tensor {Quote(name)} is null", nameof(tensors));
            if (name == MetadataKey) throw new ArgumentException($"{MetadataKey} is reserved and cannot name a tensor", nameof(tensors));
            if (!seen.Add(name)) throw new ArgumentException($"tensor {Quote(name)} appears twice", nameof(tensors));
            list.Add(new(name, tensor));
        }
        return list;
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names like "rnn.weight+x" readable; the output is still valid JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    if (key is null || value is null) throw new ArgumentException("metadata keys and values must not be null", nameof(metadata));
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                long bytes = 4L * tensor.Length;
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                for (int i = 0; i < tensor.Rank; i++) json.WriteNumberValue(tensor.Dim(i));
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) & ~7;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteBody(Stream stream, byte[] header, List<KeyValuePair<string, Tensor>> tensors, Action? halfWritten = null)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
        stream.Write(lengthBytes);
        stream.Write(header);
        if (BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < tensors.Count; i++)
            {
                if (halfWritten != null && i == tensors.Count / 2)
                {
                    stream.Flush();
                    halfWritten();
                }
                stream.Write(MemoryMarshal.AsBytes(tensors[i].Value.ReadOnlySpan));
            }
            return;
        }
        halfWritten?.Invoke();   // big-endian hosts: the pause falls before the tensors
        byte[] scratch = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            foreach (var (_, tensor) in tensors)
            {
                var src = tensor.ReadOnlySpan;
                int perChunk = scratch.Length / 4;
                for (int start = 0; start < src.Length; start += perChunk)
                {
                    int count = Math.Min(perChunk, src.Length - start);
                    for (int i = 0; i < count; i++)
                        BinaryPrimitives.WriteSingleLittleEndian(scratch.AsSpan(4 * i), src[start + i]);
                    stream.Write(scratch, 0, 4 * count);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Messages
    // ------------------------------------------------------------------------------------------------

    // InvalidDataException is sealed, so there is no Gyre subclass: the one-line message carries the
    // file and tensor, and Data["file"] / Data["tensor"] carry them for code.
    private static InvalidDataException Fail(string file, string? tensor, string problem)
    {
        var ex = new InvalidDataException(tensor is null ? $"{file}: {problem}" : $"{file}: tensor {Quote(tensor)}: {problem}");
        ex.Data["file"] = file;
        if (tensor is not null) ex.Data["tensor"] = tensor;
        return ex;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };

    /// <summary>Quotes a name for a one-line message, escaping control characters a hostile file may hold.</summary>
    internal static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('\'');
        foreach (char c in s.Length > 200 ? s[..200] + "..." : s)
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
        return sb.Append('\'').ToString();
    }

    private static string OneLine(string s)
    {
        s = s.Length > 200 ? s[..200] + "..." : s;
        return s.ReplaceLineEndings(" ");
    }
}

/// <summary>The tensors and metadata of one safetensors file, converted to float32.</summary>
public sealed class SafetensorsFile
{
    private readonly Dictionary<string, Tensor> _tensors;
    private readonly Dictionary<string, string> _dtypes;

    internal SafetensorsFile(string source, Dictionary<string, string> metadata, string[] names,
        Dictionary<string, Tensor> tensors, Dictionary<string, string> dtypes)
    {
        Source = source;
        Metadata = metadata;
        Names = names;
        _tensors = tensors;
        _dtypes = dtypes;
    }

    /// <summary>The path or display name the file was read from (used in messages).</summary>
    public string Source { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in the order the header lists them (for files Gyre writes, the write order).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>All tensors by name, as float32.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>The dtype a tensor was stored in before conversion to float32 (F32, F16, BF16 or F64).</summary>
    public string StoredDType(string name) => _dtypes.TryGetValue(name, out var d) ? d : throw Missing(name);

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message lists those present.</exception>
    public Tensor Get(string name) => _tensors.TryGetValue(name, out var t) ? t : throw Missing(name);

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Tensor? tensor)
        => _tensors.TryGetValue(name, out tensor);

    private KeyNotFoundException Missing(string name)
    {
        const int shown = 40;
        string list = string.Join(", ", Names.Take(shown)) + (Names.Count > shown ? $", ... ({Names.Count - shown} more)" : "");
        return new KeyNotFoundException($"{Source}: no tensor {Safetensors.Quote(name)} (has {Names.Count}: {list})");
    }
}
