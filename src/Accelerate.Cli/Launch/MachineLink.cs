using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Accelerate.Cli.Launch;

/// <summary>
/// The launchers' connections after the machine rendezvous, kept open for the whole job: machine 0 holds one to
/// every other machine, the others one to machine 0. Carries one-line messages (DONE, FAILED, RESTART, STOPPED,
/// START, STOP) so a failure on one machine stops or restarts the ranks on all of them, and a launcher that goes
/// away is noticed by the others (its connection closes).
/// </summary>
internal sealed class MachineLink : IDisposable
{
    private readonly Dictionary<int, Socket> _peers;
    private readonly Channel<(int Machine, string? Line)> _inbox = Channel.CreateUnbounded<(int, string?)>();
    private readonly HashSet<int> _done = [];
    private Task<(int Machine, string? Line)>? _next;

    /// <summary>Wraps the open connections, keyed by the machine rank at the other end.</summary>
    public MachineLink(Dictionary<int, Socket> peers, bool coordinator)
    {
        _peers = peers;
        IsCoordinator = coordinator;
        foreach (var (machine, socket) in peers)
            new Thread(() => Pump(machine, socket)) { IsBackground = true, Name = $"machine {machine} link" }.Start();
    }

    /// <summary>True on machine 0, which decides restarts and stops for the job.</summary>
    public bool IsCoordinator { get; }

    /// <summary>Machines whose ranks all finished cleanly.</summary>
    public IReadOnlySet<int> Done => _done;

    /// <summary>True when every other machine's ranks finished cleanly.</summary>
    public bool AllPeersDone => _peers.Keys.All(_done.Contains);

    /// <summary>Completes with the next message: the machine it came from and the line, or null when that machine's launcher is gone.</summary>
    public Task<(int Machine, string? Line)> Next => _next ??= _inbox.Reader.ReadAsync().AsTask();

    /// <summary>Takes the message <see cref="Next"/> completed with; a DONE is recorded in <see cref="Done"/>.</summary>
    public (int Machine, string? Line) Take()
    {
        var message = Next.Result;
        _next = null;
        if (message.Line == "DONE") _done.Add(message.Machine);
        return message;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the next message; null on timeout.</summary>
    public (int Machine, string? Line)? Take(TimeSpan timeout) => Next.Wait(timeout) ? Take() : null;

    /// <summary>Sends a line to one machine (ignored when it is gone).</summary>
    public void Send(int machine, string line)
    {
        try { _peers[machine].Send(Encoding.UTF8.GetBytes(line.ReplaceLineEndings(" ") + "\n")); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Sends a line to every machine still running.</summary>
    public void Broadcast(string line)
    {
        foreach (var machine in _peers.Keys.Where(m => !_done.Contains(m))) Send(machine, line);
    }

    /// <summary>Waits until every machine still running has answered <paramref name="reply"/>; false when one is gone or time runs out.</summary>
    public bool AwaitAll(string reply, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var waiting = _peers.Keys.Where(m => !_done.Contains(m)).ToHashSet();
        while (waiting.Count > 0)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || Take(left) is not { } message) return false;
            if (message.Line is null && waiting.Contains(message.Machine)) return false;
            if (message.Line == reply) waiting.Remove(message.Machine);
        }
        return true;
    }

    private void Pump(int machine, Socket socket)
    {
        try
        {
            using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
            while (reader.ReadLine() is { } line) _inbox.Writer.TryWrite((machine, line));
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        _inbox.Writer.TryWrite((machine, null));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var socket in _peers.Values)
        {
            try { socket.Shutdown(SocketShutdown.Both); }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
            socket.Dispose();
        }
    }
}
