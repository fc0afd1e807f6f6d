using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Where the launchers of a multi-machine job meet before any rank starts (static rendezvous). Machine 0's
/// launcher listens on <c>main_process_port</c> and greets every connection with a fresh nonce; the others
/// check in with their machine rank, their own nonce and (when ACCELERATE_LAUNCH_SECRET is set) an HMAC over
/// both nonces and what they claim, so a recorded check-in cannot be replayed. When all have arrived, machine 0
/// hands out the job id (and the secret, unless every machine has one) with its own HMAC over both nonces, so a
/// joining machine knows it met the real machine 0. Check-ins are served concurrently, each within
/// <see cref="CheckInTimeout"/>, lines are at most <see cref="MaxLineLength"/> bytes, and at most
/// <see cref="MaxPendingCheckIns"/> connections may be checking in at once. When the timeout passes first,
/// every waiting machine fails with the machine ranks that are missing.
/// With the c10d backend (<see cref="LaunchPlan.DynamicRendezvous"/>) every machine runs the same command: the
/// launcher that can bind the endpoint hosts (it is machine 0), the others check in with <c>*</c> for their machine
/// rank and their <c>--rdzv_id</c>, and the host gives out machine ranks 1, 2, ... in the order the check-ins pass.
/// The host keeps its <see cref="RendezvousLobby"/> on the endpoint for the whole job (machines may join a running job),
/// so it hands out a free port of its own for the ranks' store (MASTER_PORT) with the machine ranks.
/// </summary>
internal static class MachineRendezvous
{
    private const string Hello = "ACCELERATE-RDZV/2";

    /// <summary>Longest line either side reads during the rendezvous.</summary>
    public const int MaxLineLength = 4096;

    /// <summary>Connections that may be checking in at once; more are closed at once.</summary>
    public const int MaxPendingCheckIns = 64;

    /// <summary>Time a connection has to send its check-in line after machine 0's greeting.</summary>
    public static readonly TimeSpan CheckInTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Meets the other machines; returns what the job agreed on, the connections to keep for the job, this machine's
    /// rank and how many machines the job runs on (with c10d and <c>--nnodes MIN:MAX</c>, those that joined in time).
    /// </summary>
    /// <param name="plan">This machine's plan.</param>
    /// <param name="environmentSecret">ACCELERATE_LAUNCH_SECRET of this machine, or null.</param>
    /// <param name="console">For progress lines.</param>
    /// <param name="lobby">
    /// c10d: the lobby this launcher hosts from an earlier round, kept for the whole job so machines can join it while
    /// it runs; set here when this launcher starts hosting. Null on the other machines.
    /// </param>
    /// <param name="returning">c10d, a new round: how many machines of the last round (besides this one) are expected back before machines that waited are taken in.</param>
    public static (JobIdentity Job, MachineLink Link, int MachineRank, int Machines) Meet(LaunchPlan plan, string? environmentSecret, LauncherConsole console,
        ref RendezvousLobby? lobby, int returning = 0)
    {
        var heartbeatTimeout = MachineLink.HeartbeatTimeout(Environment.GetEnvironmentVariable);
        var deadline = DateTime.UtcNow + plan.RendezvousTimeout;
        if (plan.DynamicRendezvous)
        {
            if (lobby is null)
            {
                var listener = TryHostEndpoint(plan);
                if (listener is null) return Join(plan, environmentSecret, deadline, heartbeatTimeout, console);
                lobby = new RendezvousLobby(listener, plan, environmentSecret, console);
            }
            return Host(lobby, plan, environmentSecret, deadline, heartbeatTimeout, console, returning);
        }
        if (plan.MachineRank != 0) return Join(plan, environmentSecret, deadline, heartbeatTimeout, console);
        PortProbe.EnsureFree(plan.MainProcessPort, "--main_process_port");
        // Static: the lobby closes with the rendezvous, so rank 0's store can bind the port.
        using var any = new RendezvousLobby(Listen(new IPEndPoint(IPAddress.Any, plan.MainProcessPort), plan), plan, environmentSecret, console);
        return Host(any, plan, environmentSecret, deadline, heartbeatTimeout, console, 0);
    }

    /// <summary>
    /// c10d: this launcher hosts when it can listen on the endpoint itself, i.e. the address is one of this machine's
    /// and no other launcher here hosts already (as torchrun's c10d backend, the first to bind wins). Null: join.
    /// </summary>
    private static Socket? TryHostEndpoint(LaunchPlan plan)
    {
        var address = EndpointAddress(plan);
        try
        {
            return Listen(new IPEndPoint(address, plan.MainProcessPort), plan);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse)
        {
            return null;
        }
    }

    private static Socket Listen(IPEndPoint endpoint, LaunchPlan plan)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endpoint);
            listener.Listen(Math.Max(plan.NumMachines, MaxPendingCheckIns));
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>A machine that passed its check-in, with the nonces machine 0's answer is bound to.</summary>
    internal sealed record Arrival(int Machine, Socket Connection, string HostNonce, string JoinerNonce);

    private static (JobIdentity, MachineLink, int, int) Host(RendezvousLobby lobby, LaunchPlan plan, string? environmentSecret, DateTime deadline, TimeSpan heartbeatTimeout,
        LauncherConsole console, int returning)
    {
        console.Info(plan.MinMachines < plan.NumMachines
            ? $"machine 0: waiting for {plan.MinMachines - 1} to {plan.NumMachines - 1} other machine(s) on port {plan.MainProcessPort} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)"
            : $"machine 0: waiting for {plan.NumMachines - 1} other machine(s) on port {plan.MainProcessPort} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");

        // c10d: the ranks' store gets a free port of its own, since the launcher keeps the endpoint for machines that join later.
        var job = new JobIdentity(plan.RunId ?? LaunchCommand.NewRunId(), environmentSecret ?? LaunchCommand.NewSecret(),
            plan.DynamicRendezvous ? PortProbe.FreePort() : plan.MainProcessPort);
        var arrived = new Dictionary<int, Arrival>();
        var everyone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Timer? lastCall = null;
        // A new round after machines waited: the last round's machines come back first (they keep their place even
        // when the round would be full with the waiting ones), but none is waited for longer than a stop and a last call.
        var deferred = new List<Arrival>();
        var returnWaitOver = returning == 0;
        // Under the gate: takes in the machines that waited once the others are back, then checks whether the round is
        // complete with every machine, or (c10d MIN:MAX) starts a last call after MIN.
        void CheckComplete()
        {
            if (returnWaitOver || arrived.Count >= returning)
            {
                returnWaitOver = true;
                foreach (var waited in deferred) arrived[arrived.Count + 1] = waited with { Machine = arrived.Count + 1 };
                deferred.Clear();
            }
            var present = arrived.Count + 1;
            if (present >= plan.NumMachines) everyone.TrySetResult();
            else if (returnWaitOver && present >= plan.MinMachines && lastCall is null)
            {
                console.Info($"machine 0: {present} machine(s) have joined ({plan.MinMachines}:{plan.NumMachines}); waiting {plan.LastCallTimeout.TotalSeconds:0.#} s for more (--rdzv_last_call_timeout)");
                lastCall = new Timer(_ => everyone.TrySetResult(), null, plan.LastCallTimeout, Timeout.InfiniteTimeSpan);
            }
        }
        string? Admit(Arrival arrival)
        {
            if (everyone.Task.IsCompleted) return "the rendezvous is over";
            // c10d: machine ranks in the order the check-ins pass; a round never takes more than MAX.
            if (plan.DynamicRendezvous)
            {
                if (arrived.Count + 1 + deferred.Count >= plan.NumMachines)
                    return $"{LaunchErrorCode.JobAtMostMachines}: this round of the c10d job at {plan.MainProcessIp}:{plan.MainProcessPort} already has the most machines --nnodes {plan.MinMachines}:{plan.NumMachines} allows; " +
                        "raise MAX in --nnodes (the same on every machine, when the job starts again), or give this machine a job of its own";
                arrival = arrival with { Machine = arrived.Count + 1 };
            }
            if (arrived.ContainsKey(arrival.Machine))
                return $"machine rank {arrival.Machine} has already checked in from another machine; give each machine its own --machine_rank";
            arrived[arrival.Machine] = arrival;
            CheckComplete();
            return null;
        }
        using var returnTimer = returning == 0 ? null : new Timer(_ =>
        {
            lock (lobby.Gate)
            {
                returnWaitOver = true;
                CheckComplete();
            }
        }, null, plan.ShutdownTimeout + plan.LastCallTimeout, Timeout.InfiniteTimeSpan);
        lock (lobby.Gate)
        {
            var (waited, back) = lobby.OpenRound(Admit);
            deferred.AddRange(waited);
            foreach (var arrival in back)
                if (Admit(arrival) is { } problem)
                {
                    TrySend(arrival.Connection, "ERROR " + problem);
                    arrival.Connection.Dispose();
                }
            CheckComplete();
        }

        Dictionary<int, Arrival> met;
        try
        {
            var left = deadline - DateTime.UtcNow;
            everyone.Task.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
        finally
        {
            lock (lobby.Gate)
            {
                everyone.TrySetResult();
                met = new Dictionary<int, Arrival>(arrived);
                // Machines that waited for a round that ended before they were taken in wait for the next one.
                foreach (var waited in deferred) TrySend(waited.Connection, "ERROR the round ended before this machine was taken in; start it again");
                foreach (var waited in deferred) waited.Connection.Dispose();
                lobby.CloseRound(met.Count + 1);
            }
            lastCall?.Dispose();
        }

        var handedOver = false;
        try
        {
            var world = met.Count + 1;
            // c10d ranks are given out in order: the missing ones are the last up to MIN, and the message counts machines.
            var missing = plan.DynamicRendezvous
                ? Enumerable.Range(world, Math.Max(0, plan.MinMachines - world)).ToList()
                : Enumerable.Range(1, plan.NumMachines - 1).Where(m => !met.ContainsKey(m)).ToList();
            if (missing.Count > 0)
            {
                foreach (var arrival in met.Values) TrySend(arrival.Connection, "MISSING " + string.Join(',', missing));
                throw Missing(missing, plan);
            }
            var secretToShare = environmentSecret is null ? job.Secret : "-";
            foreach (var arrival in met.Values)
            {
                var assigned = Assigned(plan, arrival.Machine, world, job.MasterPort);
                TrySend(arrival.Connection, $"GO {job.RunId} {secretToShare} {HostProof(environmentSecret, arrival.HostNonce, arrival.JoinerNonce, job.RunId, assigned)}{assigned}");
            }
            console.Info(world == plan.NumMachines ? $"machine 0: all {plan.NumMachines} machines arrived; starting ranks" : $"machine 0: {world} machines arrived; starting ranks");
            var link = new MachineLink(met.ToDictionary(a => a.Key, a => a.Value.Connection), coordinator: true, heartbeatTimeout);
            handedOver = true;
            return (job, link, 0, world);
        }
        finally
        {
            if (!handedOver)
                foreach (var arrival in met.Values) arrival.Connection.Dispose();
        }
    }

    /// <summary>Greets a connection and reads its check-in line; returns null when it may join, else why not.</summary>
    internal static string? CheckIn(Socket connection, LaunchPlan plan, string? environmentSecret, out Arrival? arrival)
    {
        arrival = null;
        var hostNonce = NewNonce();
        TrySend(connection, $"{Hello} {hostNonce}");
        var line = ReadLine(connection, CheckInTimeout);
        var parts = line?.Split(' ') ?? [];
        // Static: HELLO rank machines processes nonce proof. c10d: HELLO * machines processes nonce proof rdzv_id.
        var machine = 0;
        if (parts.Length != (plan.DynamicRendezvous ? 7 : 6) || parts[0] != Hello || !IsNonce(parts[4])
            || (plan.DynamicRendezvous ? parts[1] != "*" || !IsToken(parts[6]) : !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out machine)))
            return line is null ? $"no check-in line (at most {MaxLineLength} bytes) within {CheckInTimeout.TotalSeconds:0} s"
                : parts.Length is 6 or 7 && parts[0] == Hello && IsNonce(parts[4]) ? "one machine uses --rdzv_backend c10d and another static; use the same --rdzv_backend on every machine"
                : "not an accelerate launcher check-in";
        var (machines, processes, joinerNonce, proof) = (parts[2], parts[3], parts[4], parts[5]);
        arrival = new Arrival(machine, connection, hostNonce, joinerNonce);
        var claims = string.Join(' ', parts[1..4].Append(joinerNonce).Concat(parts.Skip(6)));
        var who = plan.DynamicRendezvous ? "a machine" : $"machine {machine}";
        if (plan.DynamicRendezvous)
        {
            if (parts[6] != RendezvousId(plan))
                return $"{LaunchErrorCode.RendezvousIdMismatch}: {who} has --rdzv_id {Printable(parts[6], 100)}, the host at {plan.MainProcessIp}:{plan.MainProcessPort} has {RendezvousId(plan)}: " +
                    "another job uses this endpoint, or the ids differ; give every machine of one job the same --rdzv_id, and each job its own endpoint";
        }
        else if (machine < 1 || machine >= plan.NumMachines)
            return $"machine rank {machine} is out of range for --num_machines {plan.NumMachines} (0..{plan.NumMachines - 1}); fix --machine_rank on that machine";
        if ((machines, processes) != Shape(plan))
            return $"{who} has {Describe(plan, machines, processes)}, machine 0 has {Describe(plan, Shape(plan).Machines, Shape(plan).Processes)}; use the same values on every machine";
        if (environmentSecret is null && proof != "-")
            return $"{who} has ACCELERATE_LAUNCH_SECRET set but machine 0 does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && proof == "-")
            return $"machine 0 has ACCELERATE_LAUNCH_SECRET set but {who} does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(proof),
                Encoding.ASCII.GetBytes(JoinerProof(environmentSecret, hostNonce, claims))))
            return $"ACCELERATE_LAUNCH_SECRET differs between machine 0 and {who} (or the check-in was recorded and replayed); set the same value on every machine";
        return null;
    }

    private static (JobIdentity, MachineLink, int, int) Join(LaunchPlan plan, string? environmentSecret, DateTime deadline, TimeSpan heartbeatTimeout, LauncherConsole console)
    {
        var where = $"{plan.MainProcessIp}:{plan.MainProcessPort}";
        console.Info($"{(plan.DynamicRendezvous ? "this machine" : $"machine {plan.MachineRank}")}: joining machine 0 at {where} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");
        var connection = Connect(plan, deadline)
            ?? throw Missing([0], plan, $" Nothing answered at {where}: start the launcher on machine 0, and check --main_process_ip, --main_process_port and the firewall.");
        var handedOver = false;
        try
        {
            var greeting = ReadLine(connection, CheckInTimeout)?.Split(' ') ?? [];
            if (greeting is not [Hello, var hostNonce] || !IsNonce(hostNonce))
                throw new LaunchException("ACC3040", $"what answers at {where} is not machine 0's accelerate launcher (it did not greet with {Hello}). " +
                    "Check --main_process_ip and --main_process_port, and that machine 0 runs the same accelerate version.", 1);
            var joinerNonce = NewNonce();
            var machine = plan.DynamicRendezvous ? "*" : plan.MachineRank.ToString(CultureInfo.InvariantCulture);
            var (machines, processes) = Shape(plan);
            var id = plan.DynamicRendezvous ? " " + RendezvousId(plan) : "";
            var proof = environmentSecret is null ? "-" : JoinerProof(environmentSecret, hostNonce, $"{machine} {machines} {processes} {joinerNonce}{id}");
            TrySend(connection, string.Join(' ', Hello, machine, machines, processes, joinerNonce, proof) + id);
            // Machine 0 answers when everyone is in, or at its own deadline: allow for clocks started a little apart.
            var reply = ReadLine(connection, deadline - DateTime.UtcNow + TimeSpan.FromSeconds(15));
            var parts = reply?.Split(' ') ?? [];
            if (plan.DynamicRendezvous && parts is ["WAIT", var running] && int.TryParse(running, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                // c10d: the job already runs; its machines stop their ranks (which save a checkpoint) and meet again with this one.
                console.Info($"this machine: the c10d job at {where} is running on {running} machine(s); waiting for a new round that includes this machine");
                reply = ReadLine(connection, deadline - DateTime.UtcNow + plan.ShutdownTimeout + plan.LastCallTimeout + TimeSpan.FromSeconds(15));
                parts = reply?.Split(' ') ?? [];
            }
            switch (parts)
            {
                case ["GO", var runId, var sharedSecret, var hostProof, .. var rank] when IsToken(runId) && (sharedSecret == "-" || IsSecret(sharedSecret))
                        && (plan.DynamicRendezvous
                            ? rank is [var r, var w, var p] && int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var given) && int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out var size)
                              && size >= plan.MinMachines && size <= plan.NumMachines && given >= 1 && given < size
                              && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var storePort) && storePort is > 0 and <= 65535
                            : rank is []):
                    var assigned = plan.DynamicRendezvous ? $" {rank[0]} {rank[1]} {rank[2]}" : "";
                    // With a secret of its own, this machine trusts only a machine 0 that proves it knows it for these nonces.
                    if (environmentSecret is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hostProof),
                            Encoding.ASCII.GetBytes(HostProof(environmentSecret, hostNonce, joinerNonce, runId, assigned))))
                        throw new LaunchException("ACC3040", $"what answers at {where} did not prove it knows ACCELERATE_LAUNCH_SECRET: it is not this job's machine 0, " +
                            "or machine 0 has a different secret. Check --main_process_ip and --main_process_port, and set the same ACCELERATE_LAUNCH_SECRET on every machine.", 1);
                    if (sharedSecret == "-" && environmentSecret is null)
                        throw new LaunchException("ACC3040", $"machine 0 at {where} handed out no secret although this machine has none; set the same ACCELERATE_LAUNCH_SECRET on every machine, or on none.", 1);
                    handedOver = true;
                    var (machineRank, world) = plan.DynamicRendezvous
                        ? (int.Parse(rank[0], CultureInfo.InvariantCulture), int.Parse(rank[1], CultureInfo.InvariantCulture))
                        : (plan.MachineRank, plan.NumMachines);
                    if (plan.DynamicRendezvous) console.Info($"machine {machineRank}: given machine rank {machineRank} of {world} by the host at {where}");
                    return (new JobIdentity(runId, sharedSecret == "-" ? environmentSecret! : sharedSecret,
                            plan.DynamicRendezvous ? int.Parse(rank[2], CultureInfo.InvariantCulture) : plan.MainProcessPort),
                        new MachineLink(new() { [0] = connection }, coordinator: false, heartbeatTimeout), machineRank, world);
                case ["MISSING", var list] when list.Split(',').All(m => int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out _)):
                    throw Missing(list.Split(',').Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToList(), plan);
                case ["ERROR", var code, ..]:
                    // A reason with a code of its own (a different --rdzv_id, a job at MAX or ending) keeps that code.
                    throw new LaunchException(code is [.., ':'] && OwnReasons.Contains(code[..^1]) ? code[..^1] : LaunchErrorCode.TurnedAway,
                        $"machine 0 at {where} turned this machine away: {Printable(reply![6..], 1000)}.", 1);
                case ["ERROR"]:
                    throw new LaunchException(LaunchErrorCode.TurnedAway, $"machine 0 at {where} turned this machine away: no reason given.", 1);
                case []:
                    throw new LaunchException("ACC3030", $"machine 0 at {where} closed the rendezvous without an answer; see its output for the reason.", 1);
                default:
                    throw new LaunchException("ACC3040", $"machine 0 at {where} answered the check-in with a line this launcher cannot read ('{Printable(reply!, 80)}'); " +
                        "run the same accelerate version on every machine, and check that nothing else listens at that address.", 1);
            }
        }
        finally
        {
            if (!handedOver) connection.Dispose();
        }
    }

    /// <summary>Codes a turned-away machine reports as they are, not as ACC3031.</summary>
    private static readonly string[] OwnReasons = [LaunchErrorCode.RendezvousIdMismatch, LaunchErrorCode.JobAtMostMachines, LaunchErrorCode.RendezvousClosed];

    private static IPAddress EndpointAddress(LaunchPlan plan)
        => Dns.GetHostAddresses(plan.MainProcessIp).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new LaunchException("ACC3006", $"{(plan.DynamicRendezvous ? "--rdzv_endpoint" : "--main_process_ip")} {plan.MainProcessIp} has no IPv4 address; give machine 0's address.");

    /// <summary>c10d: <c>--rdzv_id</c>, or torchrun's default <c>none</c>.</summary>
    private static string RendezvousId(LaunchPlan plan) => plan.RunId ?? "none";

    /// <summary>
    /// c10d: the machine rank the host gives out, the machines of the job and the ranks' MASTER_PORT, as the GO line ends
    /// with them (" 2 3 41234"); static: nothing.
    /// </summary>
    private static string Assigned(LaunchPlan plan, int machine, int world, int masterPort)
        => plan.DynamicRendezvous ? string.Create(CultureInfo.InvariantCulture, $" {machine} {world} {masterPort}") : "";

    /// <summary>What every machine must agree on: static, machines and total processes; c10d, MIN:MAX and processes per machine.</summary>
    private static (string Machines, string Processes) Shape(LaunchPlan plan) => plan.DynamicRendezvous
        ? (string.Create(CultureInfo.InvariantCulture, $"{plan.MinMachines}:{plan.NumMachines}"), plan.LocalProcesses.ToString(CultureInfo.InvariantCulture))
        : (plan.NumMachines.ToString(CultureInfo.InvariantCulture), plan.NumProcesses.ToString(CultureInfo.InvariantCulture));

    private static string Describe(LaunchPlan plan, string machines, string processes) => plan.DynamicRendezvous
        ? $"--nnodes {Printable(machines, 40)} --nproc_per_node {Printable(processes, 40)}"
        : $"--num_machines {machines} --num_processes {processes}";

    private static Socket? Connect(LaunchPlan plan, DateTime deadline)
    {
        var address = EndpointAddress(plan);
        // Machines are usually started together: retry quickly at first, then every 250 ms.
        var pause = TimeSpan.FromMilliseconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Min(5, Math.Max(0.1, (deadline - DateTime.UtcNow).TotalSeconds))));
                socket.ConnectAsync(new IPEndPoint(address, plan.MainProcessPort), attempt.Token).AsTask().GetAwaiter().GetResult();
                return socket;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                // Machine 0 may simply not be up yet: try again shortly, until the deadline.
                Thread.Sleep(pause);
                pause = TimeSpan.FromMilliseconds(Math.Min(250, pause.TotalMilliseconds * 2));
            }
        }
        return null;
    }

    private static LaunchException Missing(IReadOnlyList<int> missing, LaunchPlan plan, string detail = "")
        => plan.DynamicRendezvous
        ? new(LaunchErrorCode.TooFewMachines,
            (missing.Contains(0) ? "the host of the c10d rendezvous at" : $"only {plan.MinMachines - missing.Count} of the {plan.MinMachines} machines needed (--nnodes) joined the c10d rendezvous at") +
            $" {plan.MainProcessIp}:{plan.MainProcessPort}{(missing.Contains(0) ? " did not answer" : "")} within {plan.RendezvousTimeout.TotalSeconds:0} s (--rdzv_timeout).{detail} " +
            "Start `accelerate launch` with the same options on every machine, including the one whose address is in --rdzv_endpoint.", 1)
        : new("ACC3030",
            $"machine rank{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} of {plan.NumMachines} did not join the rendezvous at " +
            $"{plan.MainProcessIp}:{plan.MainProcessPort} within {plan.RendezvousTimeout.TotalSeconds:0} s (--rdzv_timeout).{detail} " +
            "Start `accelerate launch` with the same options and its own --machine_rank on every machine.", 1);

    private static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static bool IsNonce(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    private static bool IsSecret(string text) => text.Length == 64 && text.All(Uri.IsHexDigit);

    private static bool IsToken(string text) => text.Length is > 0 and <= 256 && text.All(c => c > ' ' && c < 127);

    /// <summary>A joining machine shows it knows the secret, for this greeting and what it claims, without sending it.</summary>
    private static string JoinerProof(string secret, string hostNonce, string claims)
        => Mac(secret, $"join {hostNonce} {claims}");

    /// <summary>Machine 0 shows it knows the secret, for this check-in, the job id and (c10d) the machine rank it hands out.</summary>
    private static string HostProof(string? secret, string hostNonce, string joinerNonce, string runId, string assigned)
        => secret is null ? "-" : Mac(secret, $"go {hostNonce} {joinerNonce} {runId}{assigned}");

    private static string Mac(string secret, string message)
        => Convert.ToHexStringLower(HMACSHA256.HashData(Convert.FromHexString(secret), Encoding.ASCII.GetBytes($"{Hello} {message}")));

    /// <summary>A peer's line as it may appear in a message: printable ASCII, at most <paramref name="length"/> characters.</summary>
    private static string Printable(string line, int length)
    {
        var text = new string(line.Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());
        return text.Length > length ? text[..length] + "..." : text;
    }

    internal static void TrySend(Socket socket, string line)
    {
        try { socket.Send(Encoding.ASCII.GetBytes(line + "\n")); }
        catch (SocketException) { }
    }

    private static string? ReadLine(Socket socket, TimeSpan timeout)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            while (buffer.Count < MaxLineLength)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return null;
                using var cancel = new CancellationTokenSource(left);
                if (socket.ReceiveAsync(one, SocketFlags.None, cancel.Token).AsTask().GetAwaiter().GetResult() == 0) return null;
                if (one[0] == '\n') return Encoding.ASCII.GetString([.. buffer]);
                buffer.Add(one[0]);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException) { }
        return null;
    }
}
