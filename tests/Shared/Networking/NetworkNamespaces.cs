using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Accelerate.Testing;

/// <summary>
/// N "machines": one Linux network namespace each, with its own address on a veth pair whose other end is on a bridge.
/// The bridge lives in one more namespace (the "switch"), so nothing changes in the host's own network, unless the
/// machines must reach the host (a SLURM controller running there): then the bridge is on the host with
/// <see cref="HostAddress"/> and is every machine's default route. Created by the test and removed on dispose, also
/// after a failed create; <see cref="TryCreate"/> says why when it cannot be done (not root).
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    private static int _count;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _links = [];
    private readonly List<string> _bridgePorts = [];
    private readonly string _tag;
    private string? _switch;
    private string? _bridge;

    private NetworkNamespaces(int machines, bool reachableHost)
    {
        // Interface names have at most 15 characters.
        _tag = $"{Environment.ProcessId % 100000}n{Interlocked.Increment(ref _count) % 100}";
        var subnet = FreeSubnet();
        HostAddress = reachableHost ? subnet + ".1" : null;
        Addresses = Enumerable.Range(0, machines).Select(m => $"{subnet}.{m + 2}").ToList();
    }

    /// <summary>The machines' namespaces, machine 0 first.</summary>
    public IReadOnlyList<string> Names => _namespaces;

    /// <summary>The machines' addresses, machine 0 first.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>The host's address on the bridge when the machines can reach the host, otherwise null.</summary>
    public string? HostAddress { get; }

    /// <summary>Prefix that runs a command inside machine <paramref name="machine"/>'s namespace.</summary>
    public string[] Exec(int machine) => ["ip", "netns", "exec", _namespaces[machine]];

    /// <summary>
    /// Prefix that runs a command in machine <paramref name="machine"/>'s network namespace and changes nothing else:
    /// <see cref="Exec"/> also remounts /sys, hiding the cgroup file system slurmd looks for.
    /// </summary>
    public string[] Enter(int machine) => ["nsenter", "--net=/run/netns/" + _namespaces[machine], "--"];

    /// <summary>Takes machine <paramref name="machine"/>'s link down: from then on its packets are dropped, nothing is reset.</summary>
    public void Cut(int machine) => Ip($"-n {_namespaces[machine]} link set {_links[machine]} down");

    /// <summary>
    /// Waits until a process in machine <paramref name="machine"/>'s namespace holds a connection to
    /// <paramref name="address"/>:<paramref name="port"/> that has received more than <paramref name="bytes"/> bytes;
    /// false if none does within <paramref name="timeout"/>.
    /// </summary>
    public bool WaitForConnection(int machine, string address, int port, long bytes, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            string[] command = [.. Exec(machine), "ss", "-Htni", "state", "established", "dst", $"{address}:{port}"];
            var received = Regex.Match(Run(command[0], out _, command[1..]), @"bytes_received:(\d+)");
            if (received.Success && long.Parse(received.Groups[1].Value) > bytes) return true;
            Thread.Sleep(100); // polling interval of a deadline-bounded wait
        }
        return false;
    }

    /// <summary>
    /// Creates <paramref name="machines"/> namespaces on one bridge, or returns null with the reason. With
    /// <paramref name="reachableHost"/> the bridge is on the host, which the machines reach at <see cref="HostAddress"/>.
    /// </summary>
    public static NetworkNamespaces? TryCreate(int machines, out string reason, bool reachableHost = false)
    {
        var set = new NetworkNamespaces(machines, reachableHost);
        var tag = set._tag;
        try
        {
            if (!reachableHost)
            {
                Ip($"netns add accs{tag}");
                set._switch = $"accs{tag}";
            }
            Ip($"{set.OnBridgeSide}link add br{tag} type bridge");
            set._bridge = $"br{tag}";
            if (set.HostAddress is not null) Ip($"addr add {set.HostAddress}/24 dev br{tag}");
            Ip($"{set.OnBridgeSide}link set br{tag} up");
            for (var machine = 0; machine < machines; machine++)
            {
                var name = $"accm{tag}m{machine}";
                Ip($"netns add {name}");
                set._namespaces.Add(name);
                Ip($"-n {name} link set lo up");
                var (inside, outside) = ($"e{tag}m{machine}", $"s{tag}m{machine}");
                set._bridgePorts.Add(outside);
                set._links.Add(inside);
                Ip($"{set.OnBridgeSide}link add {outside} type veth peer name {inside} netns {name}");
                Ip($"{set.OnBridgeSide}link set {outside} master br{tag}");
                Ip($"{set.OnBridgeSide}link set {outside} up");
                Ip($"-n {name} addr add {set.Addresses[machine]}/24 dev {inside}");
                Ip($"-n {name} link set {inside} up");
                // The host's other addresses (where srun may say it listens) are reached through the bridge too.
                if (set.HostAddress is not null) Ip($"-n {name} route add default via {set.HostAddress}");
            }
            reason = "";
            return set;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            set.Dispose();
            reason = $"cannot create network namespaces here (needs root and iproute2): {e.Message}";
            return null;
        }
    }

    /// <summary>The <c>ip</c> option that addresses the namespace holding the bridge (none: the host's).</summary>
    private string OnBridgeSide => _switch is null ? "" : $"-n {_switch} ";

    /// <summary>
    /// Removes the bridge's ends of the veth pairs, the bridge and the namespaces. Deleting a namespace deletes its end
    /// of a pair, but under gVisor the other end can stay behind, so each goes explicitly.
    /// </summary>
    public void Dispose()
    {
        foreach (var port in _bridgePorts) TryIp($"{OnBridgeSide}link delete {port}");
        if (_bridge is not null) TryIp($"{OnBridgeSide}link delete {_bridge}");
        foreach (var name in _namespaces) TryIp($"netns delete {name}");
        if (_switch is not null) TryIp($"netns delete {_switch}");
        _bridgePorts.Clear();
        _namespaces.Clear();
        _bridge = null;
        _switch = null;
    }

    /// <summary>A 10.x.y.0/24 that no address or route of this machine uses yet.</summary>
    private static string FreeSubnet()
    {
        var used = Run("ip", out _, "-4", "route", "show", "table", "all") + Run("ip", out _, "-4", "addr", "show");
        for (var attempt = 0; ; attempt++)
        {
            var subnet = $"10.{240 + Random.Shared.Next(10)}.{Random.Shared.Next(250)}";
            if (!used.Contains(subnet + ".", StringComparison.Ordinal) || attempt > 100) return subnet;
        }
    }

    private static void TryIp(string arguments)
    {
        try
        {
            Ip(arguments);
        }
        catch (InvalidOperationException)
        {
            // Already gone with its namespace, or never made.
        }
    }

    private static void Ip(string arguments)
    {
        var output = Run("ip", out var exitCode, arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (exitCode != 0) throw new InvalidOperationException($"ip {arguments}: {output.Trim()}");
    }

    private static string Run(string program, out int exitCode, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException(program + " could not start");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        exitCode = process.ExitCode;
        return output + error.Result;
    }
}
