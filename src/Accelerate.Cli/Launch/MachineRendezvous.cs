using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Where the launchers of a multi-machine job meet before any rank starts (static rendezvous). Machine 0's
/// launcher listens on <c>main_process_port</c>; the others connect and check in with their machine rank.
/// When all have arrived, machine 0 hands out the job id (and the secret, unless every machine has
/// ACCELERATE_LAUNCH_SECRET set) and releases the port for rank 0's store. When the timeout passes first,
/// every waiting machine fails with the machine ranks that are missing.
/// </summary>
internal static class MachineRendezvous
{
    private const string Hello = "ACCELERATE-RDZV/1";

    /// <summary>Meets the other machines; returns what the job agreed on and the connections to keep for the job.</summary>
    /// <param name="plan">This machine's plan.</param>
    /// <param name="environmentSecret">ACCELERATE_LAUNCH_SECRET of this machine, or null.</param>
    /// <param name="console">For progress lines.</param>
    public static (JobIdentity Job, MachineLink Link) Meet(LaunchPlan plan, string? environmentSecret, LauncherConsole console)
    {
        var deadline = DateTime.UtcNow + plan.RendezvousTimeout;
        return plan.MachineRank == 0
            ? Host(plan, environmentSecret, deadline, console)
            : Join(plan, environmentSecret, deadline, console);
    }

    private static (JobIdentity, MachineLink) Host(LaunchPlan plan, string? environmentSecret, DateTime deadline, LauncherConsole console)
    {
        PortProbe.EnsureFree(plan.MainProcessPort, "--main_process_port");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, plan.MainProcessPort));
        listener.Listen(plan.NumMachines);
        console.Info($"machine 0: waiting for {plan.NumMachines - 1} other machine(s) on port {plan.MainProcessPort} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");

        var job = new JobIdentity(plan.RunId ?? LaunchCommand.NewRunId(), environmentSecret ?? LaunchCommand.NewSecret(), plan.MainProcessPort);
        var arrived = new Dictionary<int, Socket>();
        try
        {
            while (arrived.Count < plan.NumMachines - 1)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) break;
                Socket connection;
                try
                {
                    using var cancel = new CancellationTokenSource(left);
                    connection = listener.AcceptAsync(cancel.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) { break; }

                var problem = CheckIn(connection, plan, environmentSecret, arrived, out var machine);
                if (problem is null) arrived[machine] = connection;
                else
                {
                    TrySend(connection, "ERROR " + problem);
                    connection.Dispose();
                    if (machine > 0) console.Error($"machine {machine} was turned away: {problem}");
                }
            }

            var missing = Enumerable.Range(1, plan.NumMachines - 1).Where(m => !arrived.ContainsKey(m)).ToList();
            if (missing.Count > 0)
            {
                foreach (var connection in arrived.Values) TrySend(connection, "MISSING " + string.Join(',', missing));
                throw Missing(missing, plan);
            }
            var secretToShare = environmentSecret is null ? job.Secret : "-";
            foreach (var connection in arrived.Values) TrySend(connection, $"GO {job.RunId} {secretToShare}");
            console.Info($"machine 0: all {plan.NumMachines} machines arrived; starting ranks");
            // The connections stay open for the job; the listener closes, so rank 0's store can bind the port.
            var link = new MachineLink(arrived, coordinator: true);
            arrived = [];
            return (job, link);
        }
        finally
        {
            foreach (var connection in arrived.Values) connection.Dispose();
        }
    }

    /// <summary>Reads a machine's check-in line; returns null when it may join, else why not.</summary>
    private static string? CheckIn(Socket connection, LaunchPlan plan, string? environmentSecret, Dictionary<int, Socket> arrived, out int machine)
    {
        machine = -1;
        var line = ReadLine(connection, TimeSpan.FromSeconds(10));
        var parts = line?.Split(' ') ?? [];
        if (parts.Length != 5 || parts[0] != Hello || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var checkedIn))
            return "not an accelerate launcher check-in";
        machine = checkedIn;
        var (machines, processes, proof) = (parts[2], parts[3], parts[4]);
        if (machine < 1 || machine >= plan.NumMachines)
            return $"machine rank {machine} is out of range for --num_machines {plan.NumMachines} (0..{plan.NumMachines - 1}); fix --machine_rank on that machine";
        if (arrived.ContainsKey(machine))
            return $"machine rank {machine} has already checked in from another machine; give each machine its own --machine_rank";
        if (machines != plan.NumMachines.ToString(CultureInfo.InvariantCulture) || processes != plan.NumProcesses.ToString(CultureInfo.InvariantCulture))
            return $"machine {machine} has --num_machines {machines} --num_processes {processes}, machine 0 has --num_machines {plan.NumMachines} --num_processes {plan.NumProcesses}; use the same values on every machine";
        if (environmentSecret is null && proof != "-")
            return $"machine {machine} has ACCELERATE_LAUNCH_SECRET set but machine 0 does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && proof == "-")
            return $"machine 0 has ACCELERATE_LAUNCH_SECRET set but machine {machine} does not; set the same value on every machine, or on none";
        if (environmentSecret is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(proof), Encoding.ASCII.GetBytes(Proof(environmentSecret))))
            return $"ACCELERATE_LAUNCH_SECRET differs between machine 0 and machine {machine}; set the same value on every machine";
        return null;
    }

    private static (JobIdentity, MachineLink) Join(LaunchPlan plan, string? environmentSecret, DateTime deadline, LauncherConsole console)
    {
        var where = $"{plan.MainProcessIp}:{plan.MainProcessPort}";
        console.Info($"machine {plan.MachineRank}: joining machine 0 at {where} (up to {plan.RendezvousTimeout.TotalSeconds:0} s)");
        var connection = Connect(plan, deadline)
            ?? throw Missing([0], plan, $" Nothing answered at {where}: start the launcher on machine 0, and check --main_process_ip, --main_process_port and the firewall.");
        var hello = string.Join(' ', Hello, plan.MachineRank, plan.NumMachines, plan.NumProcesses, environmentSecret is null ? "-" : Proof(environmentSecret));
        TrySend(connection, hello);
        // Machine 0 answers when everyone is in, or at its own deadline: allow for clocks started a little apart.
        var reply = ReadLine(connection, deadline - DateTime.UtcNow + TimeSpan.FromSeconds(15));
        var parts = reply?.Split(' ', 3) ?? [];
        if (parts.FirstOrDefault() == "GO" && parts.Length == 3)
            return (new JobIdentity(parts[1], parts[2] == "-" ? environmentSecret! : parts[2], plan.MainProcessPort),
                new MachineLink(new() { [0] = connection }, coordinator: false));
        connection.Dispose();
        switch (parts.FirstOrDefault())
        {
            case "MISSING" when parts.Length == 2:
                throw Missing(parts[1].Split(',').Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToList(), plan);
            case "ERROR":
                throw new LaunchException("ACC3031", $"machine 0 at {where} turned this machine away: {reply![6..]}.", 1);
            default:
                throw new LaunchException("ACC3030", $"machine 0 at {where} closed the rendezvous without an answer; see its output for the reason.", 1);
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

    /// <summary>Shows a machine knows the secret without sending it.</summary>
    private static string Proof(string secret)
        => Convert.ToHexStringLower(HMACSHA256.HashData(Convert.FromHexString(secret), Encoding.ASCII.GetBytes(Hello)));

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
            while (buffer.Count < 4096)
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
