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

    /// <summary>Meets the other machines; returns what the job agreed on and the connections to keep for the job.</summary>
    /// <param name="plan">This machine's plan.</param>
    /// <param name="environmentSecret">ACCELERATE_LAUNCH_SECRET of this machine, or null.</param>
    /// <param name="console">For progress lines.</param>
    public static (JobIdentity Job, MachineLink Link) Meet(LaunchPlan plan, string? environmentSecret, LauncherConsole console)
    {
        var heartbeatTimeout = MachineLink.HeartbeatTimeout(Environment.GetEnvironmentVariable);
        var deadline = DateTime.UtcNow + plan.RendezvousTimeout;
        return plan.MachineRank == 0
            ? Host(plan, environmentSecret, deadline, heartbeatTimeout, console)
            : Join(plan, environmentSecret, deadline, heartbeatTimeout, console);
    }

    /// <summary>A machine that passed its check-in, with the nonces machine 0's answer is bound to.</summary>
    private sealed record Arrival(int Machine, Socket Connection, string HostNonce, string JoinerNonce);

    private static (JobIdentity, MachineLink) Host(LaunchPlan plan, string? environmentSecret, DateTime deadline, TimeSpan heartbeatTimeout, LauncherConsole console)
    {
        PortProbe.EnsureFree(plan.MainProcessPort, "--main_process_port");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, plan.MainProcessPort));
        listener.Listen(Math.Max(plan.NumMachines, MaxPendingCheckIns));
        console.Info($"machine 0: waiting for {plan.NumMachines - 1} other machine(s) on port {plan.MainProcessPort} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");

        var job = new JobIdentity(plan.RunId ?? LaunchCommand.NewRunId(), environmentSecret ?? LaunchCommand.NewSecret(), plan.MainProcessPort);
        var arrived = new Dictionary<int, Arrival>();
        var gate = new object();
        var everyone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = 0;
        using var stop = new CancellationTokenSource();
        // Check-ins run side by side: a connection that says nothing (or drips bytes) holds up nobody.
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var connection = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
                    if (Interlocked.Increment(ref pending) > MaxPendingCheckIns)
                    {
                        Interlocked.Decrement(ref pending);
                        connection.Dispose();
                        continue;
                    }
                    _ = Task.Run(() =>
                    {
                        try
                        {
                            var problem = CheckIn(connection, plan, environmentSecret, out var arrival);
                            lock (gate)
                            {
                                if (problem is null && everyone.Task.IsCompleted) problem = "the rendezvous is over";
                                if (problem is null && arrived.ContainsKey(arrival!.Machine))
                                    problem = $"machine rank {arrival.Machine} has already checked in from another machine; give each machine its own --machine_rank";
                                if (problem is null)
                                {
                                    arrived[arrival!.Machine] = arrival;
                                    if (arrived.Count == plan.NumMachines - 1) everyone.TrySetResult();
                                    return;
                                }
                            }
                            TrySend(connection, "ERROR " + problem);
                            connection.Dispose();
                            if (arrival is not null) console.Error($"machine {arrival.Machine} was turned away: {problem}");
                        }
                        finally
                        {
                            Interlocked.Decrement(ref pending);
                        }
                    });
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The rendezvous is over (or the listener closed): no more check-ins.
            }
        });

        Dictionary<int, Arrival> met;
        try
        {
            var left = deadline - DateTime.UtcNow;
            everyone.Task.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
        finally
        {
            lock (gate)
            {
                everyone.TrySetResult();
                met = new Dictionary<int, Arrival>(arrived);
            }
            stop.Cancel();
            listener.Dispose();
            accepting.Wait(TimeSpan.FromSeconds(5));
        }

        var handedOver = false;
        try
        {
            var missing = Enumerable.Range(1, plan.NumMachines - 1).Where(m => !met.ContainsKey(m)).ToList();
            if (missing.Count > 0)
            {
                foreach (var arrival in met.Values) TrySend(arrival.Connection, "MISSING " + string.Join(',', missing));
                throw Missing(missing, plan);
            }
            var secretToShare = environmentSecret is null ? job.Secret : "-";
            foreach (var arrival in met.Values)
                TrySend(arrival.Connection, $"GO {job.RunId} {secretToShare} {HostProof(environmentSecret, arrival.HostNonce, arrival.JoinerNonce, job.RunId)}");
            console.Info($"machine 0: all {plan.NumMachines} machines arrived; starting ranks");
            // The connections stay open for the job; the listener is closed, so rank 0's store can bind the port.
            var link = new MachineLink(met.ToDictionary(a => a.Key, a => a.Value.Connection), coordinator: true, heartbeatTimeout);
            handedOver = true;
            return (job, link);
        }
        finally
        {
            if (!handedOver)
                foreach (var arrival in met.Values) arrival.Connection.Dispose();
        }
    }

    /// <summary>Greets a connection and reads its check-in line; returns null when it may join, else why not.</summary>
    private static string? CheckIn(Socket connection, LaunchPlan plan, string? environmentSecret, out Arrival? arrival)
    {
        arrival = null;
        var hostNonce = NewNonce();
        TrySend(connection, $"{Hello} {hostNonce}");
        var line = ReadLine(connection, CheckInTimeout);
        var parts = line?.Split(' ') ?? [];
        if (parts.Length != 6 || parts[0] != Hello || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var machine) || !IsNonce(parts[4]))
            return line is null ? $"no check-in line (at most {MaxLineLength} bytes) within {CheckInTimeout.TotalSeconds:0} s" : "not an accelerate launcher check-in";
        var (machines, processes, joinerNonce, proof) = (parts[2], parts[3], parts[4], parts[5]);
        arrival = new Arrival(machine, connection, hostNonce, joinerNonce);
        if (machine < 1 || machine >= plan.NumMachines)
            return $"machine rank {machine} is out of range for --num_machines {plan.NumMachines} (0..{plan.NumMachines - 1}); fix --machine_rank on that machine";
        if (machines != plan.NumMachines.ToString(CultureInfo.InvariantCulture) || processes != plan.NumProcesses.ToString(CultureInfo.InvariantCulture))
            return $"machine {machine} has --num_machines {machines} --num_processes {processes}, machine 0 has --num_machines {plan.NumMachines} --num_processes {plan.NumProcesses}; use the same values on every machine";
        if (environmentSecret is null && proof != "-")
            return $"machine {machine} has ACCELERATE_LAUNCH_SECRET set but machine 0 does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && proof == "-")
            return $"machine 0 has ACCELERATE_LAUNCH_SECRET set but machine {machine} does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(proof),
                Encoding.ASCII.GetBytes(JoinerProof(environmentSecret, hostNonce, machine, machines, processes, joinerNonce))))
            return $"ACCELERATE_LAUNCH_SECRET differs between machine 0 and machine {machine} (or the check-in was recorded and replayed); set the same value on every machine";
        return null;
    }

    private static (JobIdentity, MachineLink) Join(LaunchPlan plan, string? environmentSecret, DateTime deadline, TimeSpan heartbeatTimeout, LauncherConsole console)
    {
        var where = $"{plan.MainProcessIp}:{plan.MainProcessPort}";
        console.Info($"machine {plan.MachineRank}: joining machine 0 at {where} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");
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
            var (machine, machines, processes) = (plan.MachineRank.ToString(CultureInfo.InvariantCulture),
                plan.NumMachines.ToString(CultureInfo.InvariantCulture), plan.NumProcesses.ToString(CultureInfo.InvariantCulture));
            var proof = environmentSecret is null ? "-" : JoinerProof(environmentSecret, hostNonce, plan.MachineRank, machines, processes, joinerNonce);
            TrySend(connection, string.Join(' ', Hello, machine, machines, processes, joinerNonce, proof));
            // Machine 0 answers when everyone is in, or at its own deadline: allow for clocks started a little apart.
            var reply = ReadLine(connection, deadline - DateTime.UtcNow + TimeSpan.FromSeconds(15));
            var parts = reply?.Split(' ') ?? [];
            switch (parts)
            {
                case ["GO", var runId, var sharedSecret, var hostProof] when IsToken(runId) && (sharedSecret == "-" || IsSecret(sharedSecret)):
                    // With a secret of its own, this machine trusts only a machine 0 that proves it knows it for these nonces.
                    if (environmentSecret is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hostProof),
                            Encoding.ASCII.GetBytes(HostProof(environmentSecret, hostNonce, joinerNonce, runId))))
                        throw new LaunchException("ACC3040", $"what answers at {where} did not prove it knows ACCELERATE_LAUNCH_SECRET: it is not this job's machine 0, " +
                            "or machine 0 has a different secret. Check --main_process_ip and --main_process_port, and set the same ACCELERATE_LAUNCH_SECRET on every machine.", 1);
                    if (sharedSecret == "-" && environmentSecret is null)
                        throw new LaunchException("ACC3040", $"machine 0 at {where} handed out no secret although this machine has none; set the same ACCELERATE_LAUNCH_SECRET on every machine, or on none.", 1);
                    handedOver = true;
                    return (new JobIdentity(runId, sharedSecret == "-" ? environmentSecret! : sharedSecret, plan.MainProcessPort),
                        new MachineLink(new() { [0] = connection }, coordinator: false, heartbeatTimeout));
                case ["MISSING", var list] when list.Split(',').All(m => int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out _)):
                    throw Missing(list.Split(',').Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToList(), plan);
                case ["ERROR", ..]:
                    throw new LaunchException("ACC3031", $"machine 0 at {where} turned this machine away: {(reply!.Length > 6 ? Printable(reply[6..], 1000) : "no reason given")}.", 1);
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

    private static Socket? Connect(LaunchPlan plan, DateTime deadline)
    {
        var address = Dns.GetHostAddresses(plan.MainProcessIp).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new LaunchException("ACC3006", $"--main_process_ip {plan.MainProcessIp} has no IPv4 address; give machine 0's address.");
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
                Thread.Sleep(TimeSpan.FromMilliseconds(250));
            }
        }
        return null;
    }

    private static LaunchException Missing(IReadOnlyList<int> missing, LaunchPlan plan, string detail = "")
        => new("ACC3030",
            $"machine rank{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} of {plan.NumMachines} did not join the rendezvous at " +
            $"{plan.MainProcessIp}:{plan.MainProcessPort} within {plan.RendezvousTimeout.TotalSeconds:0} s (--rdzv_timeout).{detail} " +
            "Start `accelerate launch` with the same options and its own --machine_rank on every machine.", 1);

    private static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static bool IsNonce(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    private static bool IsSecret(string text) => text.Length == 64 && text.All(Uri.IsHexDigit);

    private static bool IsToken(string text) => text.Length is > 0 and <= 256 && text.All(c => c > ' ' && c < 127);

    /// <summary>A joining machine shows it knows the secret, for this greeting and what it claims, without sending it.</summary>
    private static string JoinerProof(string secret, string hostNonce, int machine, string machines, string processes, string joinerNonce)
        => Mac(secret, $"join {hostNonce} {machine} {machines} {processes} {joinerNonce}");

    /// <summary>Machine 0 shows it knows the secret, for this check-in and the job id it hands out.</summary>
    private static string HostProof(string? secret, string hostNonce, string joinerNonce, string runId)
        => secret is null ? "-" : Mac(secret, $"go {hostNonce} {joinerNonce} {runId}");

    private static string Mac(string secret, string message)
        => Convert.ToHexStringLower(HMACSHA256.HashData(Convert.FromHexString(secret), Encoding.ASCII.GetBytes($"{Hello} {message}")));

    /// <summary>A peer's line as it may appear in a message: printable ASCII, at most <paramref name="length"/> characters.</summary>
    private static string Printable(string line, int length)
    {
        var text = new string(line.Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());
        return text.Length > length ? text[..length] + "..." : text;
    }

    private static void TrySend(Socket socket, string line)
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
