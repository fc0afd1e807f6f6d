using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Accelerate.Cli.Launch;

/// <summary>
/// The launchers' connections after the machine rendezvous, kept open for the whole job: machine 0 holds one to
/// every other machine, the others one to machine 0. Carries one-line messages (DONE, FAILED, RESTART, STOPPED,
/// START, STOP, and with c10d REJOIN and GROW) so a failure on one machine stops or restarts the ranks on all of them, and a launcher that goes
/// away is noticed by the others (its connection closes, or TCP keepalive gives up on a machine that vanished).
/// A line that does not follow that grammar, or is longer than <see cref="MaxLineLength"/>, arrives as
/// <c>MALFORMED &lt;what&gt;</c> and ends the connection. Every launcher also sends <c>ALIVE</c> several times per
/// heartbeat timeout; a machine not heard from for the whole timeout (powered off, cut off, or its launcher
/// frozen) is treated as gone (ACC3042), so no launcher waits forever for another.
/// </summary>
internal sealed class MachineLink : IDisposable
{
    /// <summary>Longest control line a launcher reads from another.</summary>
    public const int MaxLineLength = 64 * 1024;

    /// <summary>Prefix of the message that stands for a line that breaks the grammar.</summary>
    public const string Malformed = "MALFORMED ";

    /// <summary>How long a launcher may stay silent before the others call it lost, unless ACCELERATE_MACHINE_HEARTBEAT_TIMEOUT says otherwise.</summary>
    public static readonly TimeSpan DefaultHeartbeatTimeout = TimeSpan.FromSeconds(60);

    private const string Alive = "ALIVE";
    private readonly Dictionary<int, Socket> _peers;
    private readonly Channel<(int Machine, string? Line)> _inbox = Channel.CreateUnbounded<(int, string?)>();
    private readonly HashSet<int> _done = [];
    private readonly Dictionary<int, long> _lastHeard = [];
    private readonly HashSet<int> _lost = [];
    private readonly HashSet<int> _ended = [];
    private readonly object _gate = new();
    private readonly TimeSpan _heartbeatTimeout;
    private readonly Timer _heartbeat;
    private Task<(int Machine, string? Line)>? _next;

    /// <summary>Wraps the open connections, keyed by the machine rank at the other end.</summary>
    public MachineLink(Dictionary<int, Socket> peers, bool coordinator, TimeSpan? heartbeatTimeout = null)
    {
        _peers = peers;
        IsCoordinator = coordinator;
        _heartbeatTimeout = heartbeatTimeout ?? DefaultHeartbeatTimeout;
        foreach (var (machine, socket) in peers)
        {
            // A machine that is powered off or cut off is noticed even while nothing else is said (machine 0 waiting for DONE).
            TcpKeepAlive.Enable(socket);
            _lastHeard[machine] = Environment.TickCount64;
            new Thread(() => Pump(machine, socket)) { IsBackground = true, Name = $"machine {machine} link" }.Start();
        }
        var beat = _heartbeatTimeout / 6;
        _heartbeat = new Timer(_ => Beat(), null, TimeSpan.Zero, beat);
    }

    /// <summary>ACCELERATE_MACHINE_HEARTBEAT_TIMEOUT (seconds) from <paramref name="variables"/>, or the default.</summary>
    public static TimeSpan HeartbeatTimeout(Func<string, string?> variables)
    {
        var text = variables("ACCELERATE_MACHINE_HEARTBEAT_TIMEOUT");
        if (string.IsNullOrWhiteSpace(text)) return DefaultHeartbeatTimeout;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 1 && seconds <= 86400)
            return TimeSpan.FromSeconds(seconds);
        throw new LaunchException("ACC3003", $"ACCELERATE_MACHINE_HEARTBEAT_TIMEOUT='{text}' is not a number of seconds between 1 and 86400. Set it to e.g. 60, or unset it.");
    }

    /// <summary>Why machine <paramref name="machine"/>'s launcher is gone, for messages.</summary>
    public string Gone(int machine)
    {
        lock (_gate)
            return _lost.Contains(machine)
                ? $"error ACC3042: nothing was heard from the launcher on machine {machine} for {_heartbeatTimeout.TotalSeconds:0} s " +
                  "(the machine is off, the network between the machines is cut, or the launcher is frozen)"
                : $"the launcher on machine {machine} is gone (stopped, killed, or its network failed)";
    }

    /// <summary>Tells every peer this launcher is alive, and gives up on a peer not heard from within the heartbeat timeout.</summary>
    private void Beat()
    {
        foreach (var machine in _peers.Keys) Send(machine, Alive);
        var now = Environment.TickCount64;
        foreach (var (machine, socket) in _peers)
        {
            lock (_gate)
            {
                if (_ended.Contains(machine) || _lost.Contains(machine) || now - _lastHeard[machine] < _heartbeatTimeout.TotalMilliseconds) continue;
                _lost.Add(machine);
            }
            // Ends the pump, which reports the machine gone.
            try { socket.Shutdown(SocketShutdown.Both); }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }
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
        var socket = _peers[machine];
        // One line at a time per connection: the heartbeat timer sends too.
        try { lock (socket) socket.Send(Encoding.UTF8.GetBytes(line.ReplaceLineEndings(" ") + "\n")); }
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

    /// <summary>
    /// True when <paramref name="line"/> is one of the control messages: DONE, STOPPED, START, RESTART &lt;attempt&gt;, REJOIN &lt;attempt&gt; and GROW &lt;attempt&gt; (c10d),
    /// FAILED &lt;exit code&gt; &lt;text&gt; or STOP &lt;exit code&gt; &lt;text&gt;.
    /// </summary>
    public static bool IsWellFormed(string line) => line.Split(' ', 3) switch
    {
        ["DONE"] or ["STOPPED"] or ["START"] => true,
        ["RESTART" or "REJOIN" or "GROW", var attempt] => int.TryParse(attempt, NumberStyles.None, CultureInfo.InvariantCulture, out _),
        ["FAILED" or "STOP", var code, _] => int.TryParse(code, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
        _ => false,
    };

    /// <summary>The number in a well-formed RESTART, REJOIN, GROW, FAILED or STOP line.</summary>
    public static int NumberOf(string line) => int.Parse(line.Split(' ', 3)[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private void Pump(int machine, Socket socket)
    {
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var line = new MemoryStream();
            var buffer = new byte[8192];
            while (stream.Read(buffer) is var read && read > 0)
            {
                for (var i = 0; i < read; i++)
                {
                    if (buffer[i] != (byte)'\n')
                    {
                        line.WriteByte(buffer[i]);
                        if (line.Length > MaxLineLength)
                        {
                            _inbox.Writer.TryWrite((machine, $"{Malformed}a line longer than {MaxLineLength} bytes"));
                            return;
                        }
                        continue;
                    }
                    var text = Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length).TrimEnd('\r');
                    line.SetLength(0);
                    lock (_gate) _lastHeard[machine] = Environment.TickCount64;
                    if (text == Alive) continue;
                    if (!IsWellFormed(text))
                    {
                        _inbox.Writer.TryWrite((machine, $"{Malformed}'{Printable(text)}'"));
                        return;
                    }
                    _inbox.Writer.TryWrite((machine, text));
                }
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            lock (_gate) _ended.Add(machine);
            _inbox.Writer.TryWrite((machine, null));
        }
    }

    private static string Printable(string line)
    {
        var text = new string(line.Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());
        return text.Length > 80 ? text[..80] + "..." : text;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _heartbeat.Dispose();
        foreach (var socket in _peers.Values)
        {
            try { socket.Shutdown(SocketShutdown.Both); }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
            socket.Dispose();
        }
    }
}
