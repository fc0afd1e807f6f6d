using System.Buffers.Binary;

namespace Accelerate.Tracking;

/// <summary>The few protocol buffer encodings TensorBoard's records need (varint, fixed, length-delimited).</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _bytes = new();

    public ProtoWriter Varint(int field, ulong value)
    {
        Key(field, 0);
        Raw(value);
        return this;
    }

    public ProtoWriter Fixed64(int field, double value) => Fixed(field, 1, BitConverter.DoubleToInt64Bits(value), 8);

    public ProtoWriter Fixed32(int field, float value) => Fixed(field, 5, BitConverter.SingleToInt32Bits(value), 4);

    /// <summary>The low <paramref name="size"/> bytes of <paramref name="bits"/>, little-endian, as wire type <paramref name="wireType"/>.</summary>
    private ProtoWriter Fixed(int field, int wireType, long bits, int size)
    {
        Key(field, wireType);
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, bits);
        _bytes.Write(bytes[..size]);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Key(field, 2);
        Raw((ulong)value.Length);
        _bytes.Write(value);
        return this;
    }

    public ProtoWriter Message(int field, Action<ProtoWriter> body)
    {
        var inner = new ProtoWriter();
        body(inner);
        return Bytes(field, inner.ToArray());
    }

    public byte[] ToArray() => _bytes.ToArray();

    private void Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

    private void Raw(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.WriteByte((byte)value);
    }
}
