using System.Net.Sockets;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>
/// One deadline for a whole membership handshake (not per read): when it passes first, the
/// connection is shut down, which ends any read blocked on it. A peer that sends a byte now and
/// then cannot hold a thread longer than the deadline.
/// </summary>
internal sealed class HandshakeDeadline : IDisposable
{
    /// <summary>How long a connecting peer has to pass the membership challenge.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private bool _finished;

    /// <summary>Arms the deadline for <paramref name="socket"/>, <paramref name="limit"/> from now.</summary>
    public HandshakeDeadline(Socket socket, TimeSpan limit)
    {
        _socket = socket;
        Limit = limit;
        _timer = new Timer(_ => Expire(), null, limit, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The time the handshake was given.</summary>
    public TimeSpan Limit { get; }

    /// <summary>True when the deadline passed before the handshake finished (and the connection was shut down).</summary>
    public bool Expired { get; private set; }

    private void Expire()
    {
        lock (_gate)
        {
            if (_finished) return;
            Expired = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed: nothing left to stop.
            }
        }
    }

    /// <summary>Disarms the deadline: the handshake finished (either way) in time, or the connection is closed anyway.</summary>
    public void Dispose()
    {
        lock (_gate) _finished = true;
        _timer.Dispose();
    }
}
