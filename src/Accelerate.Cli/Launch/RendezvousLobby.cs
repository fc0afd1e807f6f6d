using System.Net.Sockets;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Machine 0's listening side of the rendezvous: greets every connection and checks it in (side by side, at most
/// <see cref="MachineRendezvous.MaxPendingCheckIns"/> at once). While a round is open, a machine that passes goes to it.
/// With c10d the lobby stays open for the whole job: a machine that arrives while the job runs below MAX
/// (<c>--nnodes MIN:MAX</c>) waits here (<see cref="Waiting"/>), and machine 0's agent stops the ranks for a new round
/// that includes it, as torchrun's agents do when <c>num_nodes_waiting</c> is above 0. A machine that arrives when the
/// job is at MAX is turned away (ACC3120), and so is one that arrives once the job is ending (ACC3121).
/// </summary>
internal sealed class RendezvousLobby : IDisposable
{
    private readonly Socket _listener;
    private readonly LaunchPlan _plan;
    private readonly string? _secret;
    private readonly LauncherConsole _console;
    private readonly CancellationTokenSource _stop = new();
    private Task? _accepting;
    private readonly List<MachineRendezvous.Arrival> _waiting = [];
    private TaskCompletionSource _someoneWaiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Func<MachineRendezvous.Arrival, string?>? _round;
    private int _machines;
    private bool _closed;
    // Between the end of a round's run (GROW, REJOIN) and the next round: the round's own machines check in again.
    private bool _regrouping;
    private int _returningFrom;

    /// <summary>A lobby on <paramref name="listener"/>, which it owns; it checks connections in from the first round on.</summary>
    public RendezvousLobby(Socket listener, LaunchPlan plan, string? environmentSecret, LauncherConsole console)
    {
        _listener = listener;
        _plan = plan;
        _secret = environmentSecret;
        _console = console;
    }

    /// <summary>Held while a round's admission runs and while the round reads what arrived.</summary>
    public object Gate { get; } = new();

    /// <summary>Completes once a machine waits to join the running job (c10d).</summary>
    public Task Waiting { get { lock (Gate) return _someoneWaiting.Task; } }

    /// <summary>The most machines the job may run on (MAX of <c>--nnodes MIN:MAX</c>).</summary>
    public int MaxMachines => _plan.NumMachines;

    /// <summary>Machines waiting to join the running job.</summary>
    public int WaitingCount { get { lock (Gate) return _waiting.Count; } }

    /// <summary>
    /// Machine 0 ends this round's run to meet again (machines wait to join, or one left): until the next round opens,
    /// machines that check in are this round's own coming back, and are kept for it whatever the count.
    /// </summary>
    public void ExpectRound()
    {
        lock (Gate)
        {
            _regrouping = true;
            _returningFrom = _waiting.Count;
        }
    }

    /// <summary>
    /// Opens a round: from now on <paramref name="admit"/> (called under <see cref="Gate"/>) decides on each machine
    /// that passes its check-in, returning null to take it or why not. Returns, still connected, the machines that
    /// waited to join the running job (Waited) and those of the last round that checked in again before this one
    /// opened (Back), for the round to take in.
    /// </summary>
    public (List<MachineRendezvous.Arrival> Waited, List<MachineRendezvous.Arrival> Back) OpenRound(Func<MachineRendezvous.Arrival, string?> admit)
    {
        lock (Gate)
        {
            // Connections wait in the listen queue until the first round can take them.
            _accepting ??= Task.Run(AcceptAsync);
            _round = admit;
            var connected = _waiting.Select((a, i) => (Arrival: a, Back: _regrouping && i >= _returningFrom)).Where(a => !HasHungUp(a.Arrival.Connection)).ToList();
            foreach (var gone in _waiting.Except(connected.Select(a => a.Arrival))) gone.Connection.Dispose();
            _waiting.Clear();
            _regrouping = false;
            _someoneWaiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return (connected.Where(a => !a.Back).Select(a => a.Arrival).ToList(), connected.Where(a => a.Back).Select(a => a.Arrival).ToList());
        }
    }

    /// <summary>Ends the round: the job now runs on <paramref name="machines"/> machines.</summary>
    public void CloseRound(int machines)
    {
        lock (Gate)
        {
            _round = null;
            _machines = machines;
        }
    }

    /// <summary>The job is ending here: no new round will start, and every machine waiting or arriving is told so (ACC3121).</summary>
    public void Close()
    {
        List<MachineRendezvous.Arrival> waiting;
        lock (Gate)
        {
            _closed = true;
            waiting = [.. _waiting];
            _waiting.Clear();
        }
        foreach (var arrival in waiting) TurnAway(arrival.Connection, ClosedMessage());
    }

    private async Task AcceptAsync()
    {
        try
        {
            await BoundedAccept.RunAsync(_listener, MachineRendezvous.MaxPendingCheckIns, Receive, () => false, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The lobby closed: no more check-ins.
        }
    }

    private void Receive(Socket connection)
    {
        var problem = MachineRendezvous.CheckIn(connection, _plan, _secret, out var arrival);
        lock (Gate)
        {
            if (problem is null && _closed) problem = ClosedMessage();
            else if (problem is null && _round is not null) problem = _round(arrival!);
            else if (problem is null && !_plan.DynamicRendezvous) problem = "the rendezvous is over";
            else if (problem is null && _regrouping)
            {
                _waiting.Add(arrival!);
                return;
            }
            else if (problem is null && _machines + _waiting.Count >= _plan.NumMachines) problem = FullMessage();
            else if (problem is null)
            {
                // c10d, the job runs below MAX: this machine waits for the new round machine 0's agent starts for it.
                _waiting.Add(arrival!);
                _someoneWaiting.TrySetResult();
                MachineRendezvous.TrySend(connection, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"WAIT {_machines}"));
                _console.Info($"machine 0: a machine is waiting to join the job running on {_machines} machine(s) (--nnodes {_plan.MinMachines}:{_plan.NumMachines})");
                return;
            }
            if (problem is null) return;
        }
        TurnAway(connection, problem);
        if (arrival is not null) _console.Error($"{(_plan.DynamicRendezvous ? "a machine" : $"machine {arrival.Machine}")} was turned away: {problem}");
    }

    private static void TurnAway(Socket connection, string problem)
    {
        MachineRendezvous.TrySend(connection, "ERROR " + problem);
        connection.Dispose();
    }

    private string Where => $"{_plan.MainProcessIp}:{_plan.MainProcessPort}";

    private string FullMessage()
        => $"{LaunchErrorCode.JobAtMostMachines}: the c10d job at {Where} already runs on {_machines} machines, the most --nnodes {_plan.MinMachines}:{_plan.NumMachines} allows, " +
           "so this machine was not added. To let more machines join, raise MAX in --nnodes (the same on every machine, when the job starts again); " +
           "or give this machine a job of its own (another --rdzv_endpoint and --rdzv_id)";

    private string ClosedMessage()
        => $"{LaunchErrorCode.RendezvousClosed}: the c10d job at {Where} is ending (its ranks on machine 0 have finished or stopped): the rendezvous is closed and no new round will start. " +
           "Start this machine with the next job (a new --rdzv_id)";

    /// <summary>True when the machine at the other end closed the connection while waiting (it says nothing until the round).</summary>
    private static bool HasHungUp(Socket connection)
    {
        try { return connection.Poll(0, SelectMode.SelectRead) && connection.Available == 0; }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return true; }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        _accepting?.Wait(TimeSpan.FromSeconds(5));
        lock (Gate)
        {
            foreach (var arrival in _waiting) arrival.Connection.Dispose();
            _waiting.Clear();
        }
        _stop.Dispose();
    }
}
