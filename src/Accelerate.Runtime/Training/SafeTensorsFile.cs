using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Reads and writes Hugging Face's safetensors format, which Python (<c>safetensors</c>,
/// <c>transformers</c>, <c>accelerate</c>) reads: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range (<c>data_offsets</c>, relative to the end of the
/// header) plus an optional <c>__metadata__</c> map of strings, then the raw little-endian data.
/// Sharded weights add <c>model.safetensors.index.json</c> mapping every tensor to its shard.
/// </summary>
internal static class SafeTensorsFile
{
    public const string Single = "model.safetensors";
    public const string Index = "model.safetensors.index.json";

    // The safetensors library refuses headers above 100 MB too: no real model needs more.
    private const long MaxHeaderLength = 100_000_000;
    private const int MaxDimensions = 64;

    private static readonly (string Name, ScalarType Type, int Size)[] DataTypes =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2), ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4), ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>The name HF's <c>save_model</c> gives shard <paramref name="index"/> (1-based) of <paramref name="count"/>.</summary>
    public static string ShardName(int index, int count) => $"model-{index:D5}-of-{count:D5}.safetensors";

    /// <summary>Bytes a tensor takes in the file.</summary>
    public static long SizeOf(Tensor tensor) => tensor.NumberOfElements * tensor.ElementSize;

    /// <summary>Writes <paramref name="state"/> (in its order) to <paramref name="path"/>, flushed to the disk.</summary>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, Tensor>> state)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, tensor) in state)
        {
            var dtype = DataTypes.FirstOrDefault(d => d.Type == tensor.dtype).Name
                ?? throw new AccelerateException(RuntimeErrorCode.SafeTensorsUnsupportedDtype, $"The tensor '{name}' has the dtype {tensor.dtype}, which safetensors cannot hold. Convert it to a float, integer or bool type, or save with safeSerialization: false.");
            var size = SizeOf(tensor);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Padded with spaces so the data starts 8-byte aligned, as the safetensors library writes it.
        var padded = new byte[(json.Length + 7) / 8 * 8];
        Array.Fill(padded, (byte)' ');
        json.CopyTo(padded, 0);
        DurableFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded.Length);
            stream.Write(length);
            stream.Write(padded);
            foreach (var (_, tensor) in state)
            {
                using var contiguous = tensor.detach().cpu().contiguous();
                contiguous.WriteBytesToStream(stream);
            }
        });
    }

    /// <summary>
    /// Reads every tensor of a safetensors file. The header length, every offset, shape and dtype
    /// name are checked against the file before anything is allocated, so a truncated, random or
    /// hostile file is an ACC2270 error naming it, never an out-of-memory or an index out of range.
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        var fileLength = stream.Length;
        if (fileLength < 8) throw Damaged(path, $"it has {fileLength} bytes, fewer than the 8 of the header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8)) throw Damaged(path, $"its header length ({headerLength}) exceeds the size of the file (truncated, or not safetensors)");
        if (headerLength > MaxHeaderLength) throw Damaged(path, $"its header length ({headerLength}) exceeds the {MaxHeaderLength} bytes safetensors allows");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        var entries = new List<(string Name, ScalarType Type, long[] Shape, long Begin)>();
        try
        {
            using var header = JsonDocument.Parse(headerBytes);
            if (header.RootElement.ValueKind != JsonValueKind.Object) throw Damaged(path, "its header is not a JSON object");
            foreach (var property in header.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                entries.Add(Entry(path, property.Name, property.Value, dataLength));
            }
        }
        catch (JsonException e)
        {
            throw Damaged(path, "its header is not valid JSON (" + e.Message + ")");
        }
        catch (ArgumentException e)
        {
            throw Damaged(path, "its header is not valid UTF-8 JSON (" + e.Message + ")");
        }

        var state = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, type, shape, begin) in entries)
            {
                var tensor = torch.empty(shape, type);
                state[name] = tensor;
                stream.Position = dataStart + begin;
                tensor.ReadBytesFromStream(stream);
            }
            return state;
        }
        catch
        {
            foreach (var tensor in state.Values) tensor.Dispose();
            throw;
        }
    }

    /// <summary>The shard files an index names, each checked to be a plain file name in the index's folder.</summary>
    public static IReadOnlyList<string> Shards(string index)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(index))!;
        JsonElement map;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(index));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("weight_map", out var found) || found.ValueKind != JsonValueKind.Object)
                throw BadIndex(index, "it has no \"weight_map\" object");
            map = found.Clone();
        }
        catch (JsonException e)
        {
            throw BadIndex(index, "it is not valid JSON (" + e.Message + ")");
        }
        var shards = new List<string>();
        foreach (var entry in map.EnumerateObject())
        {
            var file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : throw BadIndex(index, $"the shard of '{entry.Name}' is not a file name");
            // A shard outside the folder (../, an absolute path) would read whatever the index points at.
            if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or "..")
                throw BadIndex(index, $"the shard '{file}' of '{entry.Name}' is not a file name in the folder");
            var path = Path.Combine(directory, file);
            if (!File.Exists(path)) throw BadIndex(index, $"the shard '{file}' of '{entry.Name}' is missing");
            if (!shards.Contains(path)) shards.Add(path);
        }
        return shards;
    }

    private static (string, ScalarType, long[], long) Entry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object) throw Damaged(path, $"the entry of '{name}' is not an object");
        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Damaged(path, $"the tensor '{name}' has no dtype");
        var dtypeName = dtypeElement.GetString();
        var dtype = DataTypes.FirstOrDefault(d => d.Name == dtypeName);
        if (dtype.Name is null)
            throw Damaged(path, $"the tensor '{name}' has the dtype '{dtypeName}', which is not one of {string.Join(", ", DataTypes.Select(d => d.Name))}");
        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array || shapeElement.GetArrayLength() > MaxDimensions)
            throw Damaged(path, $"the tensor '{name}' has no shape of at most {MaxDimensions} dimensions");
        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end))
            throw Damaged(path, $"the tensor '{name}' has no data_offsets [begin, end]");
        if (begin < 0 || end < begin || end > dataLength)
            throw Damaged(path, $"the tensor '{name}' has data_offsets [{begin}, {end}] outside the {dataLength} bytes of data");
        var shape = new long[shapeElement.GetArrayLength()];
        long bytes = dtype.Size;
        var available = end - begin;
        for (var d = 0; d < shape.Length; d++)
        {
            if (!shapeElement[d].TryGetInt64(out shape[d]) || shape[d] < 0)
                throw Damaged(path, $"the tensor '{name}' has a dimension that is not a whole number ≥ 0");
            // Checked against its byte range at every step, so the product cannot overflow.
            if (shape[d] > 0 && bytes > available / shape[d])
                throw Damaged(path, $"the tensor '{name}' of shape [{string.Join(",", shapeElement.EnumerateArray())}] needs more than its {available} bytes");
            bytes *= shape[d];
        }
        if (shape.Contains(0)) bytes = 0;
        if (bytes != available)
            throw Damaged(path, $"the tensor '{name}' of shape [{string.Join(",", shape)}] and dtype {dtype.Name} needs {bytes} bytes but its data_offsets give {available}");
        return (name, dtype.Type, shape, begin);
    }

    private static AccelerateException Damaged(string path, string what) =>
        new(RuntimeErrorCode.SafeTensorsDamaged, $"{path} is not a safetensors file that can be read: {what}. Save the weights again (SaveModel, or safetensors' save_file in Python).");

    private static AccelerateException BadIndex(string path, string what) =>
        new(RuntimeErrorCode.SafeTensorsIndexDamaged, $"{path} is not a sharded-weights index that can be read: {what}. Save the weights again with SaveModel (or save_model in Python), keeping the index and its shards together.");
}
