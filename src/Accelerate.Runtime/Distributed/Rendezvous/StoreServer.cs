using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>
/// The key-value store rank 0 serves at <c>MASTER_ADDR:MASTER_PORT</c> while ranks meet (like
/// torch's TCPStore): set, get (waiting for the key), add, compare-and-set, delete, wait and check.
/// Every connection must first pass the <see cref="MembershipProof"/> challenge within one
/// <see cref="HandshakeDeadline"/>, and at most a fixed number of connections may be proving
/// membership at once (more are closed at once). A connection that fails the challenge, sends
/// garbage or an oversized frame is logged and closed; the store carries on.
/// </summary>
internal sealed class StoreServer : IDisposable
{
    /// <summary>Connections that may be in their membership handshake at once, by default.</summary>
    public const int DefaultMaxPendingHandshakes = 64;

    private readonly Socket _listener;
    private readonly MembershipProof _proof;
    private readonly Action<string> _log;
    private readonly TimeSpan _handshakeTimeout;
    private readonly int _maxPendingHandshakes;
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly List<Socket> _connections = [];
    private int _pendingHandshakes;
    private long _turnedAway;
    private volatile bool _disposed;

    private StoreServer(Socket listener, MembershipProof proof, Action<string> log, TimeSpan handshakeTimeout, int maxPendingHandshakes)
    {
        _listener = listener;
        _proof = proof;
        _log = log;
        _handshakeTimeout = handshakeTimeout;
        _maxPendingHandshakes = maxPendingHandshakes;
        new Thread(AcceptLoop) { IsBackground = true, Name = "accelerate-store-accept" }.Start();
    }

    /// <summary>The port the store listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>
    /// Starts serving at <paramref name="port"/> (0 picks a free one), on <paramref name="bindAddress"/>
    /// (loopback when every rank is on this machine) or on every interface when it is null.
    /// </summary>
    public static StoreServer Start(int port, MembershipProof proof, Action<string> log, IPAddress? bindAddress = null,
        TimeSpan? handshakeTimeout = null, int maxPendingHandshakes = DefaultMaxPendingHandshakes)
    {
        var listener = bindAddress is null
            ? new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true }
            : new Socket(bindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(bindAddress ?? IPAddress.IPv6Any, port));
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new AccelerateException(RuntimeErrorCode.StoreCannotListen, $"Rank 0 could not serve the rendezvous store on port {port}: {e.Message}. " +
                "Another program (or an earlier run that is still exiting) holds MASTER_PORT; pass a free port with --main_process_port, or stop that program.", e);
        }
        return new StoreServer(listener, proof, log, handshakeTimeout ?? HandshakeDeadline.Default, maxPendingHandshakes);
    }

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            Socket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (Exception) when (_disposed)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            // Strangers cannot pile up threads: past the cap, a new connection is closed before its challenge
            // (a member's client retries; the idle ones are dropped at their handshake deadline).
            if (Interlocked.Increment(ref _pendingHandshakes) > _maxPendingHandshakes)
            {
                Interlocked.Decrement(ref _pendingHandshakes);
                if (Interlocked.Increment(ref _turnedAway) % 100 == 1)
                    _log($"closed a connection from {Describe(connection)} at once: {_maxPendingHandshakes} connections are still proving membership " +
                        $"(each gets {_handshakeTimeout.TotalSeconds:0.#} s). Something other than this job's ranks is connecting to MASTER_PORT.");
                connection.Dispose();
                continue;
            }
            lock (_gate) _connections.Add(connection);
            try
            {
                new Thread(() => Serve(connection)) { IsBackground = true, Name = "accelerate-store-connection" }.Start();
            }
            catch (Exception e) when (e is OutOfMemoryException or ThreadStateException)
            {
                // No thread to serve it: refuse this one connection (its rank retries), never the store.
                Interlocked.Decrement(ref _pendingHandshakes);
                _log($"closed a connection from {Describe(connection)}: no thread to serve it ({e.Message})");
                lock (_gate) _connections.Remove(connection);
                connection.Dispose();
            }
        }
    }

    private static string Describe(Socket connection)
    {
        try
        {
            return connection.RemoteEndPoint?.ToString() ?? "an unknown peer";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return "an unknown peer";
        }
    }

    private void Serve(Socket connection)
    {
        var remote = Describe(connection);
        var handshaking = true;
        try
        {
            connection.NoDelay = true;
            var deadline = new HandshakeDeadline(connection, _handshakeTimeout);
            try
            {
                _proof.Challenge(connection, "store");
            }
            catch (Exception e) when (deadline.Expired && e is MembershipRefusedException or SocketException or IOException or ObjectDisposedException)
            {
                // Reported below.
            }
            finally
            {
                deadline.Dispose();
            }
            // Checked once the deadline is disarmed: a connection it shut down is never served.
            if (deadline.Expired)
            {
                _log($"closed the connection from {remote}: it did not finish the membership challenge within {_handshakeTimeout.TotalSeconds:0.#} s");
                return;
            }
            Interlocked.Decrement(ref _pendingHandshakes);
            handshaking = false;
            TcpKeepAlive.Enable(connection);
            while (!_disposed)
            {
                var request = StoreFrame.Read(connection);
                if (request is null) return;
                StoreFrame.Write(connection, Handle(request));
            }
        }
        catch (MembershipRefusedException e)
        {
            _log($"refused a connection from {remote}: {e.Message}");
        }
        catch (InvalidDataException e)
        {
            _log($"closed the connection from {remote}: malformed request ({e.Message})");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // The peer went away; nothing to answer.
        }
        finally
        {
            if (handshaking) Interlocked.Decrement(ref _pendingHandshakes);
            lock (_gate) _connections.Remove(connection);
            connection.Dispose();
        }
    }

    private byte[] Handle(byte[] request)
    {
        var reader = new FrameReader(request);
        var operation = (StoreOperation)reader.Byte();
        var reply = new FrameWriter();
        switch (operation)
        {
            case StoreOperation.Set:
            {
                var key = reader.Key();
                var value = reader.Bytes();
                End(ref reader);
                lock (_gate)
                {
                    _values[key] = value;
                    Monitor.PulseAll(_gate);
                }
                return reply.Byte((byte)StoreStatus.Ok).ToArray();
            }
            case StoreOperation.Get:
            {
                var key = reader.Key();
                var timeout = reader.Int64();
                End(ref reader);
                var value = WaitFor([key], timeout) ? Value(key) : null;
                return value is null ? reply.Byte((byte)StoreStatus.TimedOut).ToArray() : reply.Byte((byte)StoreStatus.Ok).Bytes(value).ToArray();
            }
            case StoreOperation.Add:
            {
                var key = reader.Key();
                var amount = reader.Int64();
                End(ref reader);
                long sum;
                lock (_gate)
                {
                    var current = _values.TryGetValue(key, out var bytes) && long.TryParse(Encoding.ASCII.GetString(bytes), out var parsed) ? parsed : 0;
                    sum = current + amount;
                    _values[key] = Encoding.ASCII.GetBytes(sum.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    Monitor.PulseAll(_gate);
                }
                return reply.Byte((byte)StoreStatus.Ok).Int64(sum).ToArray();
            }
            case StoreOperation.CompareSet:
            {
                var key = reader.Key();
                var expected = reader.Bytes();
                var desired = reader.Bytes();
                End(ref reader);
                byte[] result;
                lock (_gate)
                {
                    var exists = _values.TryGetValue(key, out var current);
                    if ((!exists && expected.Length == 0) || (exists && current!.AsSpan().SequenceEqual(expected)))
                    {
                        _values[key] = desired;
                        Monitor.PulseAll(_gate);
                        result = desired;
                    }
                    else
                    {
                        result = current ?? expected;
                    }
                }
                return reply.Byte((byte)StoreStatus.Ok).Bytes(result).ToArray();
            }
            case StoreOperation.Delete:
            {
                var key = reader.Key();
                End(ref reader);
                bool removed;
                lock (_gate) removed = _values.Remove(key);
                return reply.Byte((byte)(removed ? StoreStatus.Ok : StoreStatus.Missing)).ToArray();
            }
            case StoreOperation.Wait:
            case StoreOperation.Check:
            {
                var count = reader.Int64();
                if (count is < 0 or > 65536) throw new InvalidDataException($"a request names {count} keys");
                var keys = new string[count];
                for (var i = 0; i < count; i++) keys[i] = reader.Key();
                var timeout = operation == StoreOperation.Wait ? reader.Int64() : 0;
                End(ref reader);
                if (operation == StoreOperation.Wait)
                    return reply.Byte((byte)(WaitFor(keys, timeout) ? StoreStatus.Ok : StoreStatus.TimedOut)).ToArray();
                reply.Byte((byte)StoreStatus.Ok);
                lock (_gate)
                    foreach (var key in keys) reply.Byte(_values.ContainsKey(key) ? (byte)1 : (byte)0);
                return reply.ToArray();
            }
            default:
                throw new InvalidDataException($"unknown operation {(byte)operation}");
        }
    }

    private static void End(ref FrameReader reader)
    {
        if (!reader.AtEnd) throw new InvalidDataException("the frame has bytes after its last field");
    }

    private byte[]? Value(string key)
    {
        lock (_gate) return _values.GetValueOrDefault(key);
    }

    private bool WaitFor(string[] keys, long timeoutMilliseconds)
    {
        var deadline = Environment.TickCount64 + Math.Max(0, timeoutMilliseconds);
        lock (_gate)
        {
            while (!keys.All(_values.ContainsKey))
            {
                var remaining = deadline - Environment.TickCount64;
                if (remaining <= 0 || _disposed) return false;
                Monitor.Wait(_gate, (int)Math.Min(remaining, int.MaxValue));
            }
            return true;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _listener.Dispose();
        lock (_gate)
        {
            foreach (var connection in _connections) connection.Dispose();
            Monitor.PulseAll(_gate);
        }
    }
}
