using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Distributed.Tcp;

/// <summary>
/// One authenticated TCP connection to a peer rank. Every message carries a 24-byte header (kind,
/// error code, length, the sender's collective signature) so that a receiver can tell data from an
/// abort notice and catch a peer in another collective or with another size or dtype (ACC2110);
/// every failure becomes an error naming the peer and the collective. A data message's header is
/// padded to 64 bytes and its payload to a multiple of 64 (see <see cref="FrameAlignment"/>).
/// </summary>
/// <remarks>
/// The socket is non-blocking and driven by the collective's own thread (<see cref="Transfer"/>): it sends
/// to one peer while receiving, and reducing, from another (or the same) without a helper thread, and
/// retries for a few microseconds before it sleeps in <c>poll</c> (a reply that comes within them costs no
/// sleep and wake-up).
/// </remarks>
internal sealed unsafe class PeerLink : IDisposable
{
    private const int HeaderLength = 24;
    private const uint DataKind = 0x41434344;  // "DCCA"
    private const uint AbortKind = 0x41434341; // "ACCA"
    private const int SmallMessage = 64 * 1024;
    private const int BufferBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The most of a payload handed to the kernel at once. A rank that sends a large message in one call fills the
    /// socket buffers (megabytes) before it reads what its peer sent meanwhile, which waits and falls out of the cache;
    /// sending and receiving in turns keeps both moving (a 256 MB all-reduce takes a fifth less time).
    /// </summary>
    private const int SendPiece = 512 * 1024;

    /// <summary>
    /// Every data message fills a multiple of this many bytes on the wire (header and payload padded), so that each
    /// payload starts at this alignment in the kernel's socket buffers, as the caller's tensors do in memory: the
    /// kernel's copies into and out of them then run aligned (misaligned, each takes up to three times as long).
    /// </summary>
    private const int FrameAlignment = 64;

    /// <summary>A data message's header with its padding.</summary>
    private const int DataHeaderLength = FrameAlignment;

    private static int Padding(long length) => (int)(-length & (FrameAlignment - 1));

    /// <summary>Padding that ends a data message, sent behind a payload that is not copied.</summary>
    private static readonly byte* Zeros = (byte*)NativeMemory.AllocZeroed(FrameAlignment);

    /// <summary>How long a rank with nothing to do keeps retrying, at most, before it sleeps in <c>poll</c>.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency * 50 / 1_000_000;

    /// <summary>While spinning does not pay, one wait in this many still spins, to notice when it does again.</summary>
    private const int SpinProbe = 32;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly Func<string> _operation;
    private readonly Func<CollectiveSignature> _signature;
    private readonly int _rank;
    private readonly TimeSpan _timeout;

    // Outgoing message: a head (the header, with the payload and its padding copied behind it when small), then the
    // caller's payload and the padding behind it.
    private readonly byte[] _headBuffer = GC.AllocateArray<byte>(DataHeaderLength + SmallMessage + FrameAlignment, pinned: true);
    private readonly byte* _head;
    private int _headLength;
    private byte* _body;
    private long _bodyLength;
    private int _tailLength;
    private long _sent;
    private int _sending;
    private static long _payloadBytesSent;

    /// <summary>Payload bytes this process has sent to peers over TCP, on every link (which collectives went over TCP shows here).</summary>
    public static long PayloadBytesSent => Interlocked.Read(ref _payloadBytesSent);

    // Adaptive spin: how long waits on this link spin now (halved when a spin ends in sleep, full again when one pays).
    private long _spin = SpinTicks;
    private int _unspun;

    // Incoming message: header, padding behind the payload.
    private readonly byte[] _headerBuffer = GC.AllocateArray<byte>(DataHeaderLength, pinned: true); // also takes the padding behind a payload
    private readonly byte* _header;
    private int _headerRead;
    private int _tailRead;
    private long _expected;

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
        socket.SendBufferSize = BufferBytes;
        socket.ReceiveBufferSize = BufferBytes;
        socket.Blocking = false;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _head = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_headBuffer, 0);
        _header = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_headerBuffer, 0);
    }

    public PeerAddress Peer { get; }


    /// <summary>Sends one message of <paramref name="length"/> bytes.</summary>
    public void Send(nint data, long length) => Transfer(this, data, length, null, 0, default, null, 0, 0);

    /// <summary>Receives one message of exactly <paramref name="length"/> bytes.</summary>
    public void Receive(nint data, long length) => Transfer(null, 0, 0, this, length, IncomingPayload.CopyTo(data), null, 0, 0);

    /// <summary>
    /// Sends <paramref name="sendBytes"/> from <paramref name="send"/> to <paramref name="to"/> while it receives a
    /// message of <paramref name="receiveBytes"/> from <paramref name="from"/> (either may be null, both may be one
    /// link) and does with its payload what <paramref name="incoming"/> says. Payloads to combine arrive in
    /// <paramref name="scratch"/> (<paramref name="scratchBytes"/>) in pieces of <paramref name="segment"/> bytes,
    /// each combined as soon as it is complete, while the rest is still on its way; an in-place combine needs the
    /// whole message to fit in <paramref name="scratch"/>.
    /// </summary>
    public static void Transfer(PeerLink? to, nint send, long sendBytes, PeerLink? from, long receiveBytes, IncomingPayload incoming, byte* scratch, long scratchBytes, int segment)
    {
        if (incoming.Reduce && (incoming.InPlace ? receiveBytes > scratchBytes : segment <= 0 || segment > scratchBytes || segment % incoming.Type.Size() != 0))
            throw new InvalidOperationException($"a {receiveBytes}-byte combine does not fit a {scratchBytes}-byte scratch buffer in {segment}-byte segments");
        to?.BeginSend(send, sendBytes);
        from?.BeginReceive(receiveBytes);
        var sendDone = to is null;
        var headerDone = from is null;
        var tailDone = from is null;
        long received = 0, settled = from is null ? receiveBytes : 0;
        var idle = default(Idle);
        if (to is not null) Interlocked.Add(ref _payloadBytesSent, sendBytes);
        try
        {
            while (true)
            {
                var progress = false;
                if (!sendDone)
                {
                    try
                    {
                        sendDone = to!.PushSend(ref progress);
                    }
                    catch (AccelerateException) when (!headerDone)
                    {
                        // The peer may have left because the ranks are in different collectives: the header it sent says so.
                        from!.PullHeader(ref progress);
                        throw;
                    }
                }
                if (!headerDone) headerDone = from!.PullHeader(ref progress);
                if (headerDone && settled < receiveBytes)
                {
                    if (!incoming.Reduce)
                    {
                        received += from!.ReceiveSome((byte*)incoming.Target + received, receiveBytes - received, ref progress);
                        settled = received;
                    }
                    else
                    {
                        var size = incoming.Type.Size();
                        // In place, the whole message waits in scratch for its part of the outgoing data to be sent.
                        var limit = incoming.InPlace ? receiveBytes : Math.Min(receiveBytes, settled + segment);
                        var offset = incoming.InPlace ? received : received - settled;
                        if (received < limit) received += from!.ReceiveSome(scratch + offset, limit - received, ref progress);
                        var releasedBySend = incoming.InPlace && to is not null ? to.PayloadReleased : long.MaxValue;
                        while (settled < received)
                        {
                            var end = Math.Min(receiveBytes, settled + segment);
                            if (received < end || releasedBySend < end) break;
                            Reduction.Combine(incoming.Type, incoming.Op, (byte*)incoming.Target + settled, scratch + (incoming.InPlace ? settled : 0), (end - settled) / size);
                            settled = end;
                            progress = true;
                        }
                    }
                }
                if (headerDone && received == receiveBytes && !tailDone) tailDone = from!.PullTail(ref progress);
                if (progress) idle.Moved();
                if (sendDone && tailDone && settled == receiveBytes) return;
                if (progress) continue;
                var reading = !tailDone;
                Wait(sendDone ? null : to, reading ? from : null, ref idle);
            }
        }
        catch (PeerClosedException) when (to is not null && to != from && !sendDone)
        {
            // The peer we receive from may only be leaving because of a failure further along;
            // if our own send fails as well, its peer is the one to name.
            to.TryFinishSend(TimeSpan.FromMilliseconds(200));
            throw;
        }
    }

    /// <summary>Reads a message header, checks that the peer is in the same collective, and returns the message's length.</summary>
    private long ReadHeader()
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        ReceiveAll(header);
        return CheckHeader(header);
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
    public AccelerateException TimedOut() => TimedOut(sending: false);

    private AccelerateException TimedOut(bool sending) => Failure(new SocketException((int)SocketError.TimedOut), sending);

    /// <summary>
    /// Best effort: tells the peer why this rank stops (behind the rest of a half-sent message, when the peer takes it). When
    /// <paramref name="mismatch"/> (ranks in different collectives, ACC2110), the peer fails with ACC2110 too.
    /// </summary>
    public void SendAbort(string reason, bool mismatch)
    {
        if (!TryAbandonMessage(AbortPatience)) return;
        try
        {
            var text = Encoding.UTF8.GetBytes(reason.Length > 4000 ? reason[..4000] : reason);
            var frame = new byte[HeaderLength + text.Length];
            WriteHeader(frame, AbortKind, text.Length, 0, mismatch ? MismatchCode : 0);
            text.CopyTo(frame, HeaderLength);
            _socket.Send(frame, SocketFlags.None, out _);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer may be gone too; closing the socket tells it all that can be told.
        }
    }

    private const uint MismatchCode = 2110;

    /// <summary>How long a failing rank keeps sending the rest of a half-sent message, so that the peer reads the abort notice behind it.</summary>
    private static readonly TimeSpan AbortPatience = TimeSpan.FromSeconds(1);

    private static readonly byte[] AbandonedPayload = new byte[64 * 1024];

    /// <summary>
    /// Completes a message this rank stopped sending halfway (it found ranks in different collectives while large
    /// payloads went out piece by piece): the peer reads the rest before it can read why this rank stops. The rest of
    /// the payload goes as zeros, since the caller's buffer may already be gone; the peer's result is void anyway.
    /// False when the peer does not take it within <paramref name="patience"/> or the connection is broken.
    /// </summary>
    private bool TryAbandonMessage(TimeSpan patience)
    {
        if (Volatile.Read(ref _sending) == 0) return true;
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        var total = _headLength + _bodyLength + _tailLength;
        try
        {
            while (_sent < total)
            {
                var span = _sent < _headLength
                    ? new ReadOnlySpan<byte>(_head + _sent, (int)(_headLength - _sent))
                    : AbandonedPayload.AsSpan(0, (int)Math.Min(AbandonedPayload.Length, total - _sent));
                var n = _socket.Send(span, SocketFlags.None, out var error);
                if (error == SocketError.Success) _sent += n;
                else if (error == SocketError.WouldBlock && Stopwatch.GetTimestamp() < deadline) _socket.Poll(1000, SelectMode.SelectWrite);
                else if (error != SocketError.Interrupted) return false;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
        Volatile.Write(ref _sending, 0);
        return true;
    }

    private static void WriteHeader(Span<byte> header, uint kind, long length, long signature, uint code = 0)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, kind);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], code);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], length);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], signature);
    }

    // ---- sending ----

    private void BeginSend(nint data, long length)
    {
        Volatile.Write(ref _sending, 1);
        WriteHeader(new Span<byte>(_head, HeaderLength), DataKind, length, _signature().Value);
        var padding = Padding(length);
        if (length <= SmallMessage)
        {
            // One segment on the wire; the caller's buffer is free at once.
            Buffer.MemoryCopy((void*)data, _head + DataHeaderLength, length, length);
            new Span<byte>(_head + DataHeaderLength + length, padding).Clear();
            _headLength = DataHeaderLength + (int)length + padding;
            _body = null;
            _bodyLength = 0;
            _tailLength = 0;
        }
        else
        {
            _headLength = DataHeaderLength;
            _body = (byte*)data;
            _bodyLength = length;
            _tailLength = padding;
        }
        _sent = 0;
    }

    /// <summary>Bytes at the start of the payload being sent that the caller may overwrite.</summary>
    private long PayloadReleased => _body is null ? long.MaxValue : Math.Max(0, _sent - _headLength);

    /// <summary>Sends what the socket takes now; true once the whole message is sent.</summary>
    private bool PushSend(ref bool progress)
    {
        var total = _headLength + _bodyLength + _tailLength;
        while (_sent < total)
        {
            var span = _sent < _headLength
                ? new ReadOnlySpan<byte>(_head + _sent, (int)(_headLength - _sent))
                : _sent < _headLength + _bodyLength
                    ? new ReadOnlySpan<byte>(_body + (_sent - _headLength), (int)Math.Min(SendPiece, _headLength + _bodyLength - _sent))
                    : new ReadOnlySpan<byte>(Zeros, (int)(total - _sent));
            int n;
            SocketError error;
            try
            {
                n = _socket.Send(span, SocketFlags.None, out error);
            }
            catch (ObjectDisposedException e)
            {
                throw SendFailure(e);
            }
            if (error == SocketError.WouldBlock) return false;
            if (error is SocketError.Interrupted) continue;
            if (error != SocketError.Success) throw SendFailure(new SocketException((int)error));
            _sent += n;
            progress = true;
            // After a piece of the payload, the caller reads what has come before it sends more.
            if (_sent > _headLength && _sent < total) return false;
        }
        Volatile.Write(ref _sending, 0);
        return true;
    }

    private AccelerateException SendFailure(Exception e)
    {
        // The peer may have said why it left before closing: that, not the broken pipe, is the error.
        if (AbortNoticeWaiting()) ReadHeader();
        return Failure(e, sending: true);
    }

    /// <summary>Keeps sending for up to <paramref name="patience"/>; throws the send's own failure if it has one.</summary>
    private void TryFinishSend(TimeSpan patience)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        var progress = false;
        while (!PushSend(ref progress) && Stopwatch.GetTimestamp() < deadline)
            _socket.Poll(1000, SelectMode.SelectWrite);
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

    // ---- receiving ----

    private void BeginReceive(long expected)
    {
        _headerRead = 0;
        _tailRead = 0;
        _expected = expected;
    }

    /// <summary>Reads what has come of the header (and the padding behind it); once the header is complete, checks it. True once all is read.</summary>
    private bool PullHeader(ref bool progress)
    {
        if (_headerRead < HeaderLength)
        {
            _headerRead += (int)ReceiveSome(_header + _headerRead, HeaderLength - _headerRead, ref progress);
            if (_headerRead < HeaderLength) return false;
            var length = CheckHeader(new ReadOnlySpan<byte>(_header, HeaderLength));
            if (length != _expected)
                throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"{Peer.Describe()} sent {length} bytes in {_operation()} where this rank expected {_expected}: the ranks called it with different shapes or dtypes. " +
                    "Every rank must pass tensors of the same shape and dtype (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");
        }
        if (_headerRead < DataHeaderLength) _headerRead += (int)ReceiveSome(_header + _headerRead, DataHeaderLength - _headerRead, ref progress);
        return _headerRead == DataHeaderLength;
    }

    /// <summary>Reads, and drops, the padding behind the payload. True once it is read.</summary>
    private bool PullTail(ref bool progress)
    {
        var padding = Padding(_expected);
        if (_tailRead < padding) _tailRead += (int)ReceiveSome(_header + _tailRead, padding - _tailRead, ref progress);
        return _tailRead == padding;
    }

    private long CheckHeader(ReadOnlySpan<byte> header)
    {
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

    /// <summary>Receives what has arrived, up to <paramref name="max"/> bytes; 0 when nothing has.</summary>
    private long ReceiveSome(byte* buffer, long max, ref bool progress)
    {
        while (true)
        {
            int n;
            SocketError error;
            try
            {
                n = _socket.Receive(new Span<byte>(buffer, (int)Math.Min(int.MaxValue, max)), SocketFlags.None, out error);
            }
            catch (ObjectDisposedException e)
            {
                throw Failure(e, sending: false);
            }
            if (error == SocketError.WouldBlock) return 0;
            if (error is SocketError.Interrupted) continue;
            if (error != SocketError.Success) throw Failure(new SocketException((int)error), sending: false);
            if (n == 0 && max > 0) throw Closed();
            progress |= n > 0;
            return n;
        }
    }

    private void ReceiveAll(Span<byte> buffer)
    {
        var idle = default(Idle);
        fixed (byte* start = buffer)
            for (long read = 0; read < buffer.Length;)
            {
                var progress = false;
                read += ReceiveSome(start + read, buffer.Length - read, ref progress);
                if (progress) idle.Moved();
                else if (read < buffer.Length) Wait(null, this, ref idle);
            }
    }

    // ---- waiting ----

    /// <summary>A wait in progress: since when nothing has moved, how long it may spin, and whether it has slept.</summary>
    private struct Idle
    {
        public long Since;
        public long Spin;
        public bool Slept;
        public PeerLink? Link;

        /// <summary>Data moved: a wait that ended while spinning teaches its link that spinning pays.</summary>
        public void Moved()
        {
            if (Since != 0 && !Slept && Spin > 0) Link!._spin = SpinTicks;
            this = default;
        }
    }

    /// <summary>
    /// Called when neither link could make progress: the first calls return at once (a bounded spin, so that a
    /// reply arriving within microseconds costs no sleep and wake-up), later ones sleep in <c>poll</c> until
    /// <paramref name="writer"/> can take data or <paramref name="reader"/> has some, failing once nothing has
    /// moved for the collective timeout. The spin adapts: a rank that shares its core with the peer it waits for
    /// would only hold that peer off the core, so spins that end in sleep make the next ones shorter.
    /// </summary>
    private static void Wait(PeerLink? writer, PeerLink? reader, ref Idle idle)
    {
        var link = reader ?? writer!;
        var now = Stopwatch.GetTimestamp();
        if (idle.Since == 0)
        {
            idle.Since = now;
            idle.Link = link;
            idle.Spin = link._spin > 0 ? link._spin : ++link._unspun % SpinProbe == 0 ? SpinTicks : 0;
        }
        var waited = now - idle.Since;
        if (waited < idle.Spin)
        {
            Thread.SpinWait(20);
            return;
        }
        if (!idle.Slept)
        {
            idle.Slept = true;
            if (idle.Spin > 0) link._spin = link._spin < SpinTicks / 8 ? 0 : link._spin / 2;
        }
        var remaining = link._timeout.TotalSeconds - (double)waited / Stopwatch.Frequency;
        if (remaining <= 0) throw link.TimedOut(sending: reader is null);
        var milliseconds = (int)Math.Clamp(Math.Ceiling(remaining * 1000), 1, int.MaxValue);
        if (OperatingSystem.IsWindows())
        {
            var readers = reader is null ? null : new List<Socket> { reader._socket };
            var writers = writer is null ? null : new List<Socket> { writer._socket };
            Socket.Select(readers, writers, null, (int)Math.Min(int.MaxValue, milliseconds * 1000L));
            return;
        }
        var fds = stackalloc PollFd[2];
        var count = 0;
        if (writer is not null) fds[count++] = new PollFd { Fd = writer._fd, Events = PollOut };
        if (reader is not null)
        {
            if (count == 1 && fds[0].Fd == reader._fd) fds[0].Events |= PollIn;
            else fds[count++] = new PollFd { Fd = reader._fd, Events = PollIn };
        }
        _ = poll(fds, (nuint)count, milliseconds); // interrupted or ready: the caller retries, and the clock bounds the wait
    }

    private const short PollIn = 0x1;
    private const short PollOut = 0x4;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int poll(PollFd* fds, nuint count, int timeout);

    // ---- errors ----

    private PeerClosedException Closed() =>
        new($"{Peer.Describe()} closed its connection during {_operation()}: it exited or crashed (its own output or error file says why).");

    private AccelerateException Failure(Exception e, bool sending) =>
        e is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock }
            ? new AccelerateException(RuntimeErrorCode.CollectiveTimeout, $"{Peer.Describe()} did not {(sending ? "take data" : "answer")} within {_timeout.TotalSeconds:0.#} s in {_operation()}: it is stuck, or it called a different collective. " +
                CollectiveProgress.TimeoutAdvice, e)
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
