using System.Buffers.Binary;
using System.Text;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// Reads the scalars in a TensorBoard event file, independently of the writer: TFRecord framing
/// (length, masked CRC, data, masked CRC) around <c>Event</c> protocol buffers whose
/// <c>summary.value</c> entries carry a tag and a <c>simple_value</c>.
/// </summary>
internal static class TensorBoardEvents
{
    public sealed record Scalar(string Tag, long Step, float Value);

    public static List<Scalar> ReadScalars(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var scalars = new List<Scalar>();
        var records = 0;
        for (var at = 0; at < bytes.Length;)
        {
            Assert.IsTrue(at + 12 <= bytes.Length, $"{path}: a record header is cut at byte {at}");
            var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at)));
            Assert.IsTrue(at + 12 + length + 4 <= bytes.Length, $"{path}: record {records} is cut");
            ReadEvent(bytes.AsSpan(at + 12, length), scalars);
            at += 12 + length + 4;
            records++;
        }
        Assert.IsTrue(records > 0, $"{path} holds no record");
        return scalars;
    }

    private static void ReadEvent(ReadOnlySpan<byte> message, List<Scalar> scalars)
    {
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        foreach (var (field, payload, varint) in Fields(message))
        {
            if (field == 2) step = (long)varint;                       // Event.step
            else if (field == 5)                                        // Event.summary
                foreach (var (summaryField, value, _) in Fields(payload))
                    if (summaryField == 1) values.Add(ReadValue(value)); // Summary.value
        }
        scalars.AddRange(values.Select(v => new Scalar(v.Tag, step, v.Value)));
    }

    private static (string Tag, float Value) ReadValue(ReadOnlySpan<byte> message)
    {
        string? tag = null;
        float? value = null;
        foreach (var (field, payload, _) in Fields(message))
        {
            if (field == 1) tag = Encoding.UTF8.GetString(payload);                      // Value.tag
            else if (field == 2) value = BinaryPrimitives.ReadSingleLittleEndian(payload); // Value.simple_value
        }
        Assert.IsNotNull(tag, "a summary value without a tag");
        Assert.IsNotNull(value, $"summary value '{tag}' is not a simple scalar");
        return (tag, value.Value);
    }

    /// <summary>The fields of a protocol buffer message: number, bytes (length-delimited and fixed) and varint value.</summary>
    private static List<(int Field, byte[] Payload, ulong Varint)> Fields(ReadOnlySpan<byte> message)
    {
        var fields = new List<(int, byte[], ulong)>();
        var at = 0;
        while (at < message.Length)
        {
            var key = Varint(message, ref at);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0: fields.Add((field, [], Varint(message, ref at))); break;
                case 1: fields.Add((field, message.Slice(at, 8).ToArray(), 0)); at += 8; break;
                case 2:
                    var length = (int)Varint(message, ref at);
                    fields.Add((field, message.Slice(at, length).ToArray(), 0));
                    at += length;
                    break;
                case 5: fields.Add((field, message.Slice(at, 4).ToArray(), 0)); at += 4; break;
                default: Assert.Fail($"unexpected protocol buffer wire type {key & 7}"); break;
            }
        }
        return fields;
    }

    private static ulong Varint(ReadOnlySpan<byte> message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }
}
