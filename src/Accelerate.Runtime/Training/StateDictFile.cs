using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Reads and writes named tensors in TorchSharp's own state-dict format (what <c>Module.save</c>
/// writes and <c>Module.load</c> reads): a LEB128 count, then per entry a name and a tensor.
/// </summary>
internal static class StateDictFile
{
    public static void Write(string path, Dictionary<string, Tensor> state)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        nn.Module.save_state_dict(writer, state);
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var count = ReadLeb128(reader);
        var state = new Dictionary<string, Tensor>(count);
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            state[name] = TensorExtensionMethods.Load(reader, skip: false);
        }
        return state;
    }

    private static int ReadLeb128(BinaryReader reader)
    {
        int value = 0, shift = 0;
        while (true)
        {
            var b = reader.ReadByte();
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
            shift += 7;
        }
    }
}
