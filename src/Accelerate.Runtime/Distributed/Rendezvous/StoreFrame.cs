using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>Operations of the rendezvous store protocol (one byte at the start of a request frame).</summary>
internal enum StoreOperation : byte
{
    Set = 1,
    Get = 2,
    Add = 3,
    CompareSet = 4,
    Delete = 5,
    Wait = 6,
    Check = 7,
}

/// <summary>Outcome byte at the start of a reply frame.</summary>
internal enum StoreStatus : byte
{
    Ok = 0,
    TimedOut = 1,
    Missing = 2,
}

/// <summary>
/// Length-prefixed frames (u32 little-endian length, then the payload) and the bounds-checked
/// fields inside them. Anything longer than <see cref="MaxFrameLength"/> or not parseable is a
/// <see cref="InvalidDataException"/>: the server drops that connection and carries on.
/// </summary>
internal static class StoreFrame
{
    /// <summary>Largest frame either side accepts.</summary>
    public const int MaxFrameLength = 16 * 1024 * 1024;

    /// <summary>Longest key either side accepts.</summary>
    public const int MaxKeyLength = 4096;

    public static void Write(Socket socket, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxFrameLength)
            throw new InvalidDataException($"A rendezvous store frame of {payload.Length} bytes exceeds the {MaxFrameLength}-byte limit.");
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(4));
        socket.Send(frame);
    }

    /// <summary>Reads one frame; null when the peer closed the connection cleanly between frames.</summary>
    public static byte[]? Read(Socket socket)
    {
        Span<byte> header = stackalloc byte[4];
        if (!Fill(socket, header, allowCleanEnd: true)) return null;
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length > MaxFrameLength)
            throw new InvalidDataException($"a frame announced {length} bytes, over the {MaxFrameLength}-byte limit");
        var payload = new byte[length];
        Fill(socket, payload, allowCleanEnd: false);
        return payload;
    }

    private static bool Fill(Socket socket, Span<byte> buffer, bool allowCleanEnd)
    {
        var first = true;
        while (!buffer.IsEmpty)
        {
            var read = socket.Receive(buffer);
            if (read == 0)
            {
                if (first && allowCleanEnd) return false;
                throw new InvalidDataException("the connection closed in the middle of a frame");
            }
            first = false;
            buffer = buffer[read..];
        }
        return true;
    }
}

/// <summary>Builds a frame payload field by field.</summary>
internal sealed class FrameWriter
{
    private readonly MemoryStream _stream = new();

    public FrameWriter Byte(byte value)
    {
        _stream.WriteByte(value);
        return this;
    }

    public FrameWriter Int64(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        _stream.Write(bytes);
        return this;
    }

    public FrameWriter Bytes(ReadOnlySpan<byte> value)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)value.Length);
        _stream.Write(length);
        _stream.Write(value);
        return this;
    }

    public FrameWriter String(string value) => Bytes(Encoding.UTF8.GetBytes(value));

    public byte[] ToArray() => _stream.ToArray();
}

/// <summary>Reads a frame payload field by field, refusing anything that runs past its end.</summary>
internal ref struct FrameReader(ReadOnlySpan<byte> payload)
{
    private ReadOnlySpan<byte> _rest = payload;

    public bool AtEnd => _rest.IsEmpty;

    public byte Byte()
    {
        Need(1);
        var value = _rest[0];
        _rest = _rest[1..];
        return value;
    }

    public long Int64()
    {
        Need(8);
        var value = BinaryPrimitives.ReadInt64LittleEndian(_rest);
        _rest = _rest[8..];
        return value;
    }

    public byte[] Bytes()
    {
        Need(4);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(_rest);
        _rest = _rest[4..];
        if (length > _rest.Length) throw new InvalidDataException($"a field announced {length} bytes but only {_rest.Length} follow");
        var value = _rest[..(int)length].ToArray();
        _rest = _rest[(int)length..];
        return value;
    }

    public string Key()
    {
        var bytes = Bytes();
        if (bytes.Length > StoreFrame.MaxKeyLength) throw new InvalidDataException($"a key of {bytes.Length} bytes exceeds the {StoreFrame.MaxKeyLength}-byte limit");
        return Encoding.UTF8.GetString(bytes);
    }

    private readonly void Need(int count)
    {
        if (_rest.Length < count) throw new InvalidDataException("the frame ended before its last field");
    }
}
