using System.Diagnostics;

namespace Accelerate.Runtime.Tests.Slurm;

/// <summary>
/// The network of a SLURM cluster whose compute nodes are network namespaces of this machine: a bridge on the host
/// side, where slurmctld and the SLURM commands run (address <see cref="HostAddress"/>), and one namespace per node
/// with its own address on a veth pair whose host end is on the bridge. The nodes reach each other and the host;
/// nothing resolves their names. Created by the test and removed on dispose, also after a failure.
/// </summary>
internal sealed class SlurmNodeNetwork : IDisposable
{
    private static int _count;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _hostLinks = [];
    private string? _bridge;

    private SlurmNodeNetwork(string subnet, int nodes)
    {
        HostAddress = subnet + ".1";
        Addresses = Enumerable.Range(0, nodes).Select(n => $"{subnet}.{n + 2}").ToList();
    }

    /// <summary>The host's address on the bridge: slurmctld's address for the nodes.</summary>
    public string HostAddress { get; }

    /// <summary>Each node's address (its NodeAddr), node 0 first.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>
    /// Prefix that runs a command in node <paramref name="node"/>'s network namespace. nsenter changes the network only:
    /// <c>ip netns exec</c> would also remount /sys, hiding the cgroup file system slurmd looks for.
    /// </summary>
    public string[] Enter(int node) => ["nsenter", "--net=/run/netns/" + _namespaces[node], "--"];

    /// <summary>Creates the bridge and <paramref name="nodes"/> namespaces, or returns null with the reason.</summary>
    public static SlurmNodeNetwork? TryCreate(int nodes, out string reason)
    {
        var tag = $"{Environment.ProcessId % 100000}{(char)('a' + Interlocked.Increment(ref _count) % 26)}";
        var network = new SlurmNodeNetwork(FreeSubnet(), nodes);
        try
        {
            network._bridge = $"accsb{tag}";
            Ip($"link add {network._bridge} type bridge");
            Ip($"addr add {network.HostAddress}/24 dev {network._bridge}");
            Ip($"link set {network._bridge} up");
            for (var node = 0; node < nodes; node++)
            {
                var name = $"accsn{tag}{node}";
                Ip($"netns add {name}");
                network._namespaces.Add(name);
                var (hostEnd, nodeEnd) = ($"accsh{tag}{node}", $"accsv{tag}{node}");
                Ip($"link add {hostEnd} type veth peer name {nodeEnd} netns {name}");
                network._hostLinks.Add(hostEnd);
                Ip($"link set {hostEnd} master {network._bridge}");
                Ip($"link set {hostEnd} up");
                Ip($"-n {name} link set lo up");
                Ip($"-n {name} addr add {network.Addresses[node]}/24 dev {nodeEnd}");
                Ip($"-n {name} link set {nodeEnd} up");
                // The host's other addresses (where srun may say it listens) are reached through the bridge too.
                Ip($"-n {name} route add default via {network.HostAddress}");
            }
            reason = "";
            return network;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            network.Dispose();
            reason = $"cannot create a bridge and network namespaces here (needs root, iproute2 and nsenter): {e.Message}";
            return null;
        }
    }

    /// <summary>A 10.x.y.0/24 that no address or route of this machine uses yet.</summary>
    private static string FreeSubnet()
    {
        var used = Run("ip", "-4", "route", "show", "table", "all") + Run("ip", "-4", "addr", "show");
        for (var attempt = 0; ; attempt++)
        {
            var subnet = $"10.{240 + Random.Shared.Next(10)}.{Random.Shared.Next(250)}";
            if (!used.Contains(subnet + ".", StringComparison.Ordinal) || attempt > 100) return subnet;
        }
    }

    /// <summary>Removes the namespaces, the host ends of the veth pairs and the bridge.</summary>
    public void Dispose()
    {
        foreach (var name in _namespaces) TryIp($"netns delete {name}");
        // Deleting a namespace deletes its end of the pair; the host end may linger a moment, so it goes explicitly.
        foreach (var link in _hostLinks) TryIp($"link delete {link}");
        if (_bridge is not null) TryIp($"link delete {_bridge}");
        _namespaces.Clear();
        _hostLinks.Clear();
        _bridge = null;
    }

    private static void TryIp(string arguments)
    {
        try
        {
            Ip(arguments);
        }
        catch (InvalidOperationException)
        {
            // Already gone with its namespace.
        }
    }

    private static void Ip(string arguments)
    {
        var output = Run("ip", out var exitCode, arguments.Split(' '));
        if (exitCode != 0) throw new InvalidOperationException($"ip {arguments}: {output.Trim()}");
    }

    private static string Run(string program, params string[] arguments) => Run(program, out _, arguments);

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
