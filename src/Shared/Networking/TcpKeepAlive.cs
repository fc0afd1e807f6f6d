using System.Net.Sockets;

namespace Accelerate;

/// <summary>
/// TCP keepalive on the job's long-lived connections (the ranks' rendezvous and store connections, the
/// launchers' links between machines): when the machine at the other end is powered off or
/// the network between drops every packet, the kernel notices within about a minute and the connection fails,
/// instead of a waiting rank hearing nothing forever. (A frozen process still answers keepalives; the
/// rendezvous, collective and heartbeat timeouts bound that case.) This file is compiled into both the
/// launcher and the runtime, so that both give up on a vanished machine alike.
/// </summary>
internal static class TcpKeepAlive
{
    /// <summary>Idle time before the first probe.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);

    /// <summary>Time between unanswered probes.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>Unanswered probes after which the connection fails.</summary>
    public const int Probes = 6;

    /// <summary>Turns keepalive on for <paramref name="socket"/>; best effort (some platforms lack the finer settings).</summary>
    public static void Enable(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Idle.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Interval.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Probes);
        }
        catch (SocketException)
        {
            // Keepalive is a second line of defence; the timeouts still bound every wait.
        }
    }
}
