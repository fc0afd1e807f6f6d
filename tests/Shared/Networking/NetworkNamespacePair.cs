using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Accelerate.Testing;

/// <summary>
/// Two "machines": two Linux network namespaces, each with its own address, joined by a veth pair.
/// Created by the test and removed on dispose; <see cref="TryCreate"/> says why when it cannot be done (not root).
/// </summary>
internal sealed class NetworkNamespacePair : IDisposable
{
    private static int _count;
    private readonly List<string> _namespaces = [];
    private string _link = "";

    private NetworkNamespacePair(int id)
    {
        var subnet = $"10.{200 + id % 50}.{Environment.ProcessId % 250}";
        Addresses = [$"{subnet}.1", $"{subnet}.2"];
    }

    /// <summary>The namespaces' names, machine 0 first.</summary>
    public IReadOnlyList<string> Names => _namespaces;

    /// <summary>The namespaces' addresses on the veth link, machine 0 first.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>Takes machine 0's end of the link down: from then on packets between the machines are dropped, nothing is reset.</summary>
    public void Cut() => Ip($"-n {_namespaces[0]} link set {_link} down");

    /// <summary>Prefix that runs a command inside machine <paramref name="machine"/>'s namespace.</summary>
    public string[] Exec(int machine) => ["ip", "netns", "exec", _namespaces[machine]];

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
            using var ss = Process.Start(new ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true })!;
            var established = ss.StandardOutput.ReadToEnd();
            ss.WaitForExit();
            var received = Regex.Match(established, @"bytes_received:(\d+)");
            if (received.Success && long.Parse(received.Groups[1].Value) > bytes) return true;
            Thread.Sleep(100); // polling interval of a deadline-bounded wait
        }
        return false;
    }

    /// <summary>Creates the pair, or returns null with the reason.</summary>
    public static NetworkNamespacePair? TryCreate(out string reason)
    {
        var id = Interlocked.Increment(ref _count);
        var pair = new NetworkNamespacePair(id);
        var tag = $"{Environment.ProcessId % 100000}x{id}";
        var (a, b) = ($"accl{tag}a", $"accl{tag}b");
        try
        {
            foreach (var name in new[] { a, b })
            {
                Ip($"netns add {name}");
                pair._namespaces.Add(name);
                Ip($"-n {name} link set lo up");
            }
            Ip($"link add va{tag} type veth peer name vb{tag}");
            pair._link = $"va{tag}";
            Ip($"link set va{tag} netns {a}");
            Ip($"link set vb{tag} netns {b}");
            Ip($"-n {a} addr add {pair.Addresses[0]}/24 dev va{tag}");
            Ip($"-n {b} addr add {pair.Addresses[1]}/24 dev vb{tag}");
            Ip($"-n {a} link set va{tag} up");
            Ip($"-n {b} link set vb{tag} up");
            reason = "";
            return pair;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            pair.Dispose();
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

    /// <summary>Deleting a namespace also deletes the veth end inside it, and with it the pair.</summary>
    public void Dispose()
    {
        foreach (var name in _namespaces)
        {
            try { Ip($"netns delete {name}"); }
            catch (InvalidOperationException) { }
        }
    }
}
