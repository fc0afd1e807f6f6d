using System.Globalization;
using System.Runtime.InteropServices;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>Signals and liveness checks on processes the tests did not start themselves (ranks).</summary>
internal static class Processes
{
    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15, SIGCONT = 18, SIGSTOP = 19;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public static void Signal(int pid, int signal) => Kill(pid, signal);

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    /// <summary>Waits until every process in <paramref name="pids"/> is gone; returns those still alive at the timeout.</summary>
    public static IReadOnlyList<int> WaitUntilGone(IEnumerable<int> pids, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        var alive = pids.ToList();
        while (true)
        {
            alive = alive.Where(IsAlive).ToList();
            if (alive.Count == 0 || DateTime.UtcNow > deadline) return alive;
            // Processes that are not our children cannot be waited on; poll /proc with a short pause.
            Thread.Sleep(20);
        }
    }

    /// <summary>Kills leftover ranks (by pid) in test cleanup.</summary>
    public static void KillAll(IEnumerable<int> pids)
    {
        foreach (var pid in pids) if (IsAlive(pid)) Kill(pid, SIGKILL);
    }

    /// <summary>The pids in "ready rank=R pid=P" lines.</summary>
    public static List<int> ReadyPids(IEnumerable<string> lines) =>
        lines.Where(l => l.Contains("ready rank=", StringComparison.Ordinal))
            .Select(l => int.Parse(l[(l.IndexOf("pid=", StringComparison.Ordinal) + 4)..], CultureInfo.InvariantCulture)).ToList();
}
