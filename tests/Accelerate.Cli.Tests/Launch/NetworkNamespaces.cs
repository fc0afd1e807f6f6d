using System.Diagnostics;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// N "machines": one Linux network namespace each, with its own address, all plugged into a bridge that lives in one
/// more namespace (the "switch"), so nothing changes in the host's own network. Created by the test and removed on
/// dispose; <see cref="TryCreate"/> says why when it cannot be done (not root).
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    private static int _count;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _links = [];
    private string? _switch;

    /// <summary>The machines' namespaces, machine 0 first.</summary>
    public IReadOnlyList<string> Names => _namespaces;

    /// <summary>The machines' addresses on the bridge, machine 0 first.</summary>
    public IReadOnlyList<string> Addresses { get; }

    private NetworkNamespaces(int machines)
    {
        // Each set is a network of its own: the same subnet in two sets never meets.
        Addresses = Enumerable.Range(1, machines).Select(i => $"10.77.0.{i}").ToList();
    }

    /// <summary>Prefix that runs a command inside machine <paramref name="machine"/>'s namespace.</summary>
    public string[] Exec(int machine) => ["ip", "netns", "exec", _namespaces[machine]];

    /// <summary>Takes machine <paramref name="machine"/>'s link down: from then on its packets are dropped, nothing is reset.</summary>
    public void Cut(int machine) => Ip($"-n {_namespaces[machine]} link set {_links[machine]} down");

    /// <summary>Creates <paramref name="machines"/> namespaces on one bridge, or returns null with the reason.</summary>
    public static NetworkNamespaces? TryCreate(int machines, out string reason)
    {
        var id = Interlocked.Increment(ref _count);
        var set = new NetworkNamespaces(machines);
        // Interface names have at most 15 characters.
        var tag = $"{Environment.ProcessId % 100000}n{id}";
        try
        {
            set._switch = $"accs{tag}";
            Ip($"netns add {set._switch}");
            Ip($"-n {set._switch} link add br{tag} type bridge");
            Ip($"-n {set._switch} link set br{tag} up");
            for (var machine = 0; machine < machines; machine++)
            {
                var name = $"accm{tag}m{machine}";
                Ip($"netns add {name}");
                set._namespaces.Add(name);
                Ip($"-n {name} link set lo up");
                var (inside, outside) = ($"e{tag}m{machine}", $"s{tag}m{machine}");
                Ip($"-n {set._switch} link add {outside} type veth peer name {inside} netns {name}");
                set._links.Add(inside);
                Ip($"-n {set._switch} link set {outside} master br{tag}");
                Ip($"-n {set._switch} link set {outside} up");
                Ip($"-n {name} addr add {set.Addresses[machine]}/24 dev {inside}");
                Ip($"-n {name} link set {inside} up");
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

    private static void Ip(string arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in arguments.Split(' ')) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"ip {arguments}: {error.Trim()}");
    }

    /// <summary>Deleting a namespace deletes the veth ends and the bridge inside it.</summary>
    public void Dispose()
    {
        foreach (var name in _namespaces.Append(_switch).OfType<string>())
        {
            try { Ip($"netns delete {name}"); }
            catch (InvalidOperationException) { }
        }
    }
}
