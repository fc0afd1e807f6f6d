using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Reads and writes named tensors in TorchSharp's own state-dict format (what <c>Module.save</c>
/// writes and <c>Module.load</c> reads): a LEB128 count, then per entry a name (LEB128 length and
/// UTF-8) and a tensor (LEB128 dtype, rank and dimensions, then the raw bytes).
/// </summary>
internal static class StateDictFile
{
    private const int MaxDimensions = 64;

    public static void Write(string path, Dictionary<string, Tensor> state) => DurableFile.Write(path, stream =>
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        nn.Module.save_state_dict(writer, state);
        writer.Flush();
    });

    /// <summary>
    /// Reads a state dict. Every length the file declares is checked against the bytes the file
    /// really has before anything is allocated, so a truncated, random or hostile file is an ACC2253
    /// error naming it, never an out-of-memory or a native crash.
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        var state = new Dictionary<string, Tensor>();
        try
        {
            var count = ReadLength(stream, "number of entries", path);
            for (long i = 0; i < count; i++)
            {
                var name = Encoding.UTF8.GetString(ReadExactly(stream, ReadLength(stream, "name length", path)));
                state[name] = ReadTensor(stream, name, path);
            }
            return state;
        }
        catch
        {
            foreach (var tensor in state.Values) tensor.Dispose();
            throw;
        }
    }

    private static Tensor ReadTensor(FileStream stream, string name, string path)
    {
        var code = ReadLeb128(stream, path);
        var elementSize = ElementSize(code)
            ?? throw Damaged(path, $"the tensor '{name}' has an unknown element type ({code})");
        var rank = ReadLeb128(stream, path);
        if (rank > MaxDimensions) throw Damaged(path, $"the tensor '{name}' declares {rank} dimensions");
        var shape = new long[rank];
        long bytes = elementSize;
        for (var d = 0; d < shape.Length; d++)
        {
            shape[d] = ReadLeb128(stream, path);
            // Checked against what is left of the file at every step, so the product cannot overflow.
            if (shape[d] > 0 && bytes > (stream.Length - stream.Position) / shape[d])
                throw Damaged(path, $"the tensor '{name}' declares more data than the file holds");
            bytes *= shape[d];
        }
        if (bytes > stream.Length - stream.Position)
            throw Damaged(path, $"the tensor '{name}' declares more data than the file holds");
        var tensor = torch.empty(shape, (ScalarType)code);
        tensor.ReadBytesFromStream(stream);
        return tensor;
    }

    /// <summary>A length that must fit in what is left of the file (each entry takes at least one byte).</summary>
    private static long ReadLength(FileStream stream, string what, string path)
    {
        var value = ReadLeb128(stream, path);
        if (value > stream.Length - stream.Position) throw Damaged(path, $"its {what} ({value}) exceeds the size of the file");
        return value;
    }

    private static byte[] ReadExactly(FileStream stream, long count)
    {
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static long ReadLeb128(FileStream stream, string path)
    {
        long value = 0;
        for (var shift = 0; shift < 63; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0) throw Damaged(path, "it ends in the middle of an entry (truncated)");
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Damaged(path, "it holds a number longer than 63 bits");
    }

    private static int? ElementSize(long code) => (ScalarType)code switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => null,
    };

    private static AccelerateException Damaged(string path, string what) => CheckpointFolder.Damaged(path, "not a state dict SaveState wrote: " + what);
}
