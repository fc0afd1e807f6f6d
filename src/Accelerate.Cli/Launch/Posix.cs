using System.Runtime.InteropServices;

namespace Accelerate.Cli.Launch;

/// <summary>The few POSIX calls the launcher needs that .NET does not offer: signals to process groups.</summary>
internal static class Posix
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/> to the process group led by <paramref name="pid"/>, or to the process alone when it leads none yet.</summary>
    public static void SignalTree(int pid, int signal)
    {
        if (Kill(-pid, signal) != 0) Kill(pid, signal);
    }

    /// <summary>Sends <paramref name="signal"/> to the process group <paramref name="groupId"/> only; false when no such group is left.</summary>
    public static bool SignalGroup(int groupId, int signal) => Kill(-groupId, signal) == 0;

    /// <summary>Whether any process is left in the process group <paramref name="groupId"/>.</summary>
    public static bool GroupExists(int groupId) => Kill(-groupId, 0) == 0;

    /// <summary>Short name of a signal number (SIGKILL), or "signal N".</summary>
    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 3 => "SIGQUIT", 4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE",
        9 => "SIGKILL", 10 => "SIGUSR1", 11 => "SIGSEGV", 12 => "SIGUSR2", 13 => "SIGPIPE", 14 => "SIGALRM", 15 => "SIGTERM",
        _ => $"signal {signal}",
    };

    /// <summary>
    /// The signal that ended a process, from .NET's exit code (128 + signal for a process killed by a signal).
    /// A program that itself exits with 129..159 reads the same; the summary says "probably" only in the docs.
    /// </summary>
    public static int? SignalOf(int exitCode) => exitCode is > 128 and < 160 ? exitCode - 128 : null;
}
