using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Accelerate.Cli.Launch;

/// <summary>Finds free ports and explains busy ones (which process holds them, from /proc).</summary>
internal static class PortProbe
{
    /// <summary>A port the kernel considers free now (bound to 0, then released).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Throws ACC3020 naming the port and its holder when <paramref name="port"/> cannot be listened on.</summary>
    public static void EnsureFree(int port, string optionName)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // SO_REUSEADDR: a port whose old connections linger in TIME_WAIT is usable; only a live listener makes it busy.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            socket.Listen();
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            var holder = Holder(port);
            var who = holder is null ? "another process" : $"process {holder.Value.Pid} ({holder.Value.Command})";
            throw new LaunchException(LaunchErrorCode.PortBusy,
                $"Port {port} ({optionName}) is already in use by {who}, so rank 0 could not serve the rendezvous there. " +
                $"Stop that process, pick another port, or pass {optionName} 0 to use a free one.", 1);
        }
    }

    /// <summary>The process listening on <paramref name="port"/>, when /proc tells (same user or root).</summary>
    public static (int Pid, string Command)? Holder(int port)
    {
        var inodes = new HashSet<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st ... inode: local is ADDR:PORT in hex, state 0A is LISTEN.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != "0A") continue;
                var local = fields[1];
                if (int.Parse(local[(local.IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                    inodes.Add($"socket:[{fields[9]}]");
            }
        }
        if (inodes.Count == 0) return null;
        foreach (var process in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(process), out var pid)) continue;
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")))
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                        return (pid, Command(process));
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException) { }
        }
        return null;
    }

    private static string Command(string process)
    {
        try
        {
            var cmdline = File.ReadAllText(Path.Combine(process, "cmdline")).Replace('\0', ' ').Trim();
            return cmdline.Length > 0 ? cmdline : File.ReadAllText(Path.Combine(process, "comm")).Trim();
        }
        catch (IOException) { return "?"; }
    }
}
