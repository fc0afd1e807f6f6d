using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Distributed.Tcp;

/// <summary>
/// One authenticated TCP connection to a peer rank. Every message carries a 24-byte header (kind,
/// error code, length, the sender's collective signature) so that a receiver can tell data from an
/// abort notice and catch a peer in another collective or with another size or dtype (ACC2110);
/// every failure becomes an error naming the peer and the collective.
/// </summary>
internal sealed unsafe class PeerLink : IDisposable
{
    private const int HeaderLength = 24;
    private const uint DataKind = 0x41434344;  // "DCCA"
    private const uint AbortKind = 0x41434341; // "ACCA"
    private const int SmallMessage = 64 * 1024;
    private readonly Socket _socket;
    private readonly Func<string> _operation;
    private readonly Func<CollectiveSignature> _signature;
    private readonly int _rank;
    private readonly TimeSpan _timeout;
    private readonly byte[] _small = new byte[HeaderLength + SmallMessage];
    private int _sending;
    private static long _payloadBytesSent;

    /// <summary>Payload bytes this process has sent to peers over TCP, on every link (which collectives went over TCP shows here).</summary>
    public static long PayloadBytesSent => Interlocked.Read(ref _payloadBytesSent);

    /// <summary>
    /// Wraps <paramref name="socket"/>; <paramref name="signature"/> tells the collective this rank
    /// (<paramref name="rank"/>) is in: sent with every message, compared with every message received.
    /// </summary>
    public PeerLink(Socket socket, PeerAddress peer, TimeSpan timeout, int rank, Func<string> operation, Func<CollectiveSignature> signature)
    {
        _socket = socket;
        Peer = peer;
        _timeout = timeout;
        _rank = rank;
        _operation = operation;
        _signature = signature;
        socket.NoDelay = true;
        socket.SendBufferSize = 4 * 1024 * 1024;
        socket.ReceiveBufferSize = 4 * 1024 * 1024;
        var milliseconds = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
        socket.ReceiveTimeout = milliseconds;
        socket.SendTimeout = milliseconds;
    }

    public PeerAddress Peer { get; }

    /// <summary>Sends one message of <paramref name="length"/> bytes.</summary>
    public void Send(nint data, long length)
    {
        Interlocked.Exchange(ref _sending, 1);
        Interlocked.Add(ref _payloadBytesSent, length);
        try
        {
            if (length <= SmallMessage)
            {
                lock (_small)
                {
                    WriteHeader(_small, DataKind, length, _signature().Value);
                    new ReadOnlySpan<byte>((void*)data, (int)length).CopyTo(_small.AsSpan(HeaderLength));
                    SendAll(_small.AsSpan(0, HeaderLength + (int)length));
                }
                return;
            }
            Span<byte> header = stackalloc byte[HeaderLength];
            WriteHeader(header, DataKind, length, _signature().Value);
            SendAll(header);
            for (long sent = 0; sent < length;)
            {
                var chunk = (int)Math.Min(int.MaxValue, length - sent);
                SendAll(new ReadOnlySpan<byte>((byte*)data + sent, chunk));
                sent += chunk;
            }
        }
        finally
        {
            Interlocked.Exchange(ref _sending, 0);
        }
    }

    /// <summary>Reads a message header and checks that the peer sends <paramref name="expected"/> bytes.</summary>
    public void ExpectMessage(long expected)
    {
        var length = ReadHeader();
        if (length != expected)
            throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"{Peer.Describe()} sent {length} bytes in {_operation()} where this rank expected {expected}: the ranks called it with different shapes or dtypes. " +
                "Every rank must pass tensors of the same shape and dtype (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");
    }

    /// <summary>Reads a message header, checks that the peer is in the same collective, and returns the message's length.</summary>
    public long ReadHeader()
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        ReceiveAll(header);
        var kind = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var length = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        if (kind == AbortKind && length is > 0 and < 65536)
        {
            var text = new byte[length];
            ReceiveAll(text);
            // A peer that found ranks in different collectives passes the verdict on: every rank fails with ACC2110.
            var code = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) == MismatchCode ? RuntimeErrorCode.CollectiveMismatch : RuntimeErrorCode.PeerGone;
            throw new AccelerateException(code, $"{Peer.Describe()} stopped {_operation()} because: {Encoding.UTF8.GetString(text)}");
        }
        if (kind != DataKind || length < 0)
            throw new AccelerateException(RuntimeErrorCode.PeerGone, $"{Peer.Describe()} sent data this rank cannot read in {_operation()}; the job's ranks run different versions of the program.");
        var theirs = new CollectiveSignature(BinaryPrimitives.ReadInt64LittleEndian(header[16..]));
        var mine = _signature();
        if (theirs != mine) throw mine.Mismatch(theirs, _rank, Peer.Describe());
        return length;
    }

    /// <summary>Reads <paramref name="length"/> bytes of the current message's payload.</summary>
    public void ReadPayload(nint data, long length)
    {
        for (long read = 0; read < length;)
        {
            var chunk = (int)Math.Min(int.MaxValue, length - read);
            ReceiveAll(new Span<byte>((byte*)data + read, chunk));
            read += chunk;
        }
    }

    /// <summary>Receives one message of exactly <paramref name="length"/> bytes.</summary>
    public void Receive(nint data, long length)
    {
        ExpectMessage(length);
        ReadPayload(data, length);
    }

    /// <summary>
    /// Throws when the peer has closed its connection or sent an abort notice; returns at once
    /// otherwise. Used while waiting on the peer through shared memory.
    /// </summary>
    public void CheckAlive()
    {
        try
        {
            if (!_socket.Poll(0, SelectMode.SelectRead)) return;
            if (_socket.Available == 0) throw Closed();
            Span<byte> kind = stackalloc byte[4];
            if (_socket.Receive(kind, SocketFlags.Peek) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(kind) == AbortKind) ReadHeader();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw Failure(e, sending: false);
        }
    }

    /// <summary>The error for a peer that did not arrive within the collective timeout.</summary>
    public AccelerateException TimedOut() => Failure(new SocketException((int)SocketError.TimedOut), sending: false);

    /// <summary>
    /// Best effort: tells the peer why this rank stops, unless a message to it is half sent. When
    /// <paramref name="mismatch"/> (ranks in different collectives, ACC2110), the peer fails with ACC2110 too.
    /// </summary>
    public void SendAbort(string reason, bool mismatch)
    {
        if (Volatile.Read(ref _sending) != 0) return;
        try
        {
            var text = Encoding.UTF8.GetBytes(reason.Length > 4000 ? reason[..4000] : reason);
            var frame = new byte[HeaderLength + text.Length];
            WriteHeader(frame, AbortKind, text.Length, 0, mismatch ? MismatchCode : 0);
            text.CopyTo(frame, HeaderLength);
            _socket.Blocking = false;
            _socket.Send(frame);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer may be gone too; closing the socket tells it all that can be told.
        }
    }

    private const uint MismatchCode = 2110;

    private static void WriteHeader(Span<byte> header, uint kind, long length, long signature, uint code = 0)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, kind);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], code);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], length);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], signature);
    }

    private void SendAll(ReadOnlySpan<byte> data)
    {
        try
        {
            while (!data.IsEmpty) data = data[_socket.Send(data)..];
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer may have said why it left before closing: that, not the broken pipe, is the error.
            if (AbortNoticeWaiting()) ReadHeader();
            throw Failure(e, sending: true);
        }
    }

    private bool AbortNoticeWaiting()
    {
        try
        {
            Span<byte> kind = stackalloc byte[4];
            return _socket.Available >= HeaderLength && _socket.Receive(kind, SocketFlags.Peek) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(kind) == AbortKind;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private void ReceiveAll(Span<byte> buffer)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                var read = _socket.Receive(buffer);
                if (read == 0) throw Closed();
                buffer = buffer[read..];
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw Failure(e, sending: false);
        }
    }

    private PeerClosedException Closed() =>
        new($"{Peer.Describe()} closed its connection during {_operation()}: it exited or crashed (its own output or error file says why).");

    private AccelerateException Failure(Exception e, bool sending) =>
        e is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock }
            ? new AccelerateException(RuntimeErrorCode.CollectiveTimeout, $"{Peer.Describe()} did not {(sending ? "take data" : "answer")} within {_timeout.TotalSeconds:0.#} s in {_operation()}: it is stuck, or it called a different collective. " +
                "Set ACCELERATE_DEBUG_MODE=true (--debug) to compare the collectives ranks call, or raise ACCELERATE_COLLECTIVE_TIMEOUT for long pauses between collectives.", e)
            : new AccelerateException(RuntimeErrorCode.PeerGone, $"The connection to {Peer.Describe()} broke during {_operation()} ({e.Message}): it exited or crashed (its own output or error file says why).", e);

    public void Dispose()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the peer.
        }
        _socket.Dispose();
    }
}

/// <summary>A peer's connection ended without a word: the peer exited, crashed, or gave up after a failure elsewhere.</summary>
internal sealed class PeerClosedException(string message) : AccelerateException(RuntimeErrorCode.PeerGone, message);
