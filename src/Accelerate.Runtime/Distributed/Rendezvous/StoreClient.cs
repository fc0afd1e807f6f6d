using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>A connection to the rendezvous store (see <see cref="StoreServer"/>).</summary>
internal sealed class StoreClient : IDisposable
{
    /// <summary>How much longer than the server's own wait the client allows for a reply before it calls rank 0 lost.</summary>
    public static readonly TimeSpan ReplyGrace = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly string _where;
    private readonly object _gate = new();

    /// <summary>How much longer than the store's own wait a reply may take before rank 0 is called lost (<see cref="ReplyGrace"/> unless set).</summary>
    public TimeSpan Grace { get; set; } = ReplyGrace;

    private StoreClient(Socket socket, string where)
    {
        _socket = socket;
        _where = where;
    }

    /// <summary>The address of this end of the connection: the interface that reaches rank 0.</summary>
    public IPAddress LocalAddress => ((IPEndPoint)_socket.LocalEndPoint!).Address is var a && a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : ((IPEndPoint)_socket.LocalEndPoint!).Address;

    /// <summary>
    /// Connects to the store at <paramref name="host"/>:<paramref name="port"/>, retrying until
    /// <paramref name="deadline"/>: rank 0 may not be listening yet (the launcher can release the
    /// port just before rank 0 binds it).
    /// </summary>
    public static StoreClient Connect(string host, int port, MembershipProof proof, DateTime deadline, int rank)
    {
        var delay = TimeSpan.FromMilliseconds(20);
        Exception? last = null;
        while (true)
        {
            Socket? socket = null;
            try
            {
                var addresses = Dns.GetHostAddresses(host);
                var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
                socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                var remaining = deadline - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero) throw new TimeoutException();
                var connect = socket.ConnectAsync(address, port);
                if (!connect.Wait(remaining)) throw new TimeoutException($"no answer within {remaining.TotalSeconds:0.#} s");
                var handshake = new HandshakeDeadline(socket, HandshakeDeadline.Default);
                try
                {
                    proof.Answer(socket, "store");
                }
                catch (Exception) when (handshake.Expired)
                {
                    // Reported below.
                }
                finally
                {
                    handshake.Dispose();
                }
                if (handshake.Expired)
                    throw new TimeoutException($"the store did not finish the membership challenge within {HandshakeDeadline.Default.TotalSeconds:0} s");
                TcpKeepAlive.Enable(socket);
                return new StoreClient(socket, $"{host}:{port}");
            }
            catch (MembershipRefusedException e)
            {
                socket?.Dispose();
                throw new AccelerateException(RuntimeErrorCode.StoreRefused, $"Rank {rank} was refused by the rendezvous store at {host}:{port}: {e.Message}. " +
                    "Every rank of one launch must get the same ACCELERATE_LAUNCH_SECRET; start all ranks with the same `accelerate launch`, or unset the variable on every rank.");
            }
            catch (Exception e) when (e is SocketException or TimeoutException or AggregateException or IOException or ObjectDisposedException)
            {
                socket?.Dispose();
                last = e is AggregateException { InnerException: { } inner } ? inner : e;
            }
            if (DateTime.UtcNow + delay >= deadline)
                throw new AccelerateException(RuntimeErrorCode.StoreUnreachable, $"Rank {rank} could not reach the rendezvous store at {host}:{port} before the rendezvous timeout: {last?.Message}. " +
                    "Check that rank 0 is running and that MASTER_ADDR/MASTER_PORT (--main_process_ip/--main_process_port) name a host and port this machine can reach; raise ACCELERATE_RDZV_TIMEOUT if rank 0 starts late.", last);
            Thread.Sleep(delay); // back-off between connection attempts, not synchronisation
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }

    public void Set(string key, byte[] value) => Call(new FrameWriter().Byte((byte)StoreOperation.Set).String(key).Bytes(value), TimeSpan.Zero);

    /// <summary>The value of <paramref name="key"/>, waiting up to <paramref name="timeout"/> for it; null if it never came.</summary>
    public byte[]? Get(string key, TimeSpan timeout)
    {
        var reader = Reply(Call(new FrameWriter().Byte((byte)StoreOperation.Get).String(key).Int64(Milliseconds(timeout)), timeout), out var status);
        return status == StoreStatus.Ok ? reader.Bytes() : null;
    }

    public long Add(string key, long amount)
    {
        var reader = Reply(Call(new FrameWriter().Byte((byte)StoreOperation.Add).String(key).Int64(amount), TimeSpan.Zero), out _);
        return reader.Int64();
    }

    /// <summary>Sets <paramref name="key"/> to <paramref name="desired"/> if it holds <paramref name="expected"/> (empty: absent); returns the value it holds afterwards.</summary>
    public byte[] CompareSet(string key, byte[] expected, byte[] desired)
    {
        var reader = Reply(Call(new FrameWriter().Byte((byte)StoreOperation.CompareSet).String(key).Bytes(expected).Bytes(desired), TimeSpan.Zero), out _);
        return reader.Bytes();
    }

    public bool Delete(string key)
    {
        Reply(Call(new FrameWriter().Byte((byte)StoreOperation.Delete).String(key), TimeSpan.Zero), out var status);
        return status == StoreStatus.Ok;
    }

    /// <summary>True when every key exists within <paramref name="timeout"/>.</summary>
    public bool Wait(IReadOnlyList<string> keys, TimeSpan timeout)
    {
        var writer = new FrameWriter().Byte((byte)StoreOperation.Wait).Int64(keys.Count);
        foreach (var key in keys) writer.String(key);
        Reply(Call(writer.Int64(Milliseconds(timeout)), timeout), out var status);
        return status == StoreStatus.Ok;
    }

    /// <summary>Which of <paramref name="keys"/> exist now.</summary>
    public bool[] Check(IReadOnlyList<string> keys)
    {
        var writer = new FrameWriter().Byte((byte)StoreOperation.Check).Int64(keys.Count);
        foreach (var key in keys) writer.String(key);
        var payload = Call(writer, TimeSpan.Zero);
        var reader = Reply(payload, out _);
        var present = new bool[keys.Count];
        for (var i = 0; i < present.Length; i++) present[i] = reader.Byte() == 1;
        return present;
    }

    private static long Milliseconds(TimeSpan timeout) => (long)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);

    /// <summary>Sends a request and reads its reply, allowing <paramref name="serverWait"/> (how long the store may wait before answering) plus <see cref="ReplyGrace"/>.</summary>
    private byte[] Call(FrameWriter request, TimeSpan serverWait)
    {
        lock (_gate)
        {
            var allowed = TimeSpan.FromMilliseconds(Milliseconds(serverWait)) + Grace;
            try
            {
                _socket.SendTimeout = _socket.ReceiveTimeout = (int)Math.Min(allowed.TotalMilliseconds, int.MaxValue);
                StoreFrame.Write(_socket, request.ToArray());
                return StoreFrame.Read(_socket) ?? throw new InvalidDataException("the store closed the connection");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.HostUnreachable or SocketError.NetworkUnreachable)
            {
                throw new AccelerateException(RuntimeErrorCode.StoreSilent, $"The rendezvous store (rank 0 at {_where}) did not answer within {allowed.TotalSeconds:0.#} s: " +
                    "machine 0 is unreachable (powered off, or the network between the machines drops packets) or rank 0 is frozen. " +
                    "Check machine 0 and the network to it; this rank stops instead of waiting forever.", e);
            }
            catch (Exception e) when (e is SocketException or InvalidDataException or ObjectDisposedException)
            {
                throw new AccelerateException(RuntimeErrorCode.StoreConnectionBroken, $"The connection to the rendezvous store (rank 0 at {_where}) broke: {e.Message}. Rank 0 has probably exited; its own error explains why.", e);
            }
        }
    }

    private static FrameReader Reply(byte[] payload, out StoreStatus status)
    {
        var reader = new FrameReader(payload);
        status = (StoreStatus)reader.Byte();
        return reader;
    }

    public void Dispose() => _socket.Dispose();
}
