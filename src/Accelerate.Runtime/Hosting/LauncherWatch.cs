using System.Diagnostics;
using System.Globalization;

namespace Accelerate.Hosting;

/// <summary>
/// Watches the launcher named by <c>ACCELERATE_LAUNCHER_PID</c> and reports once when it is gone,
/// so that no rank outlives its launcher (also when the launcher was killed with SIGKILL and could
/// not stop its ranks).
/// </summary>
internal sealed class LauncherWatch : IDisposable
{
    public const string Variable = LaunchVariables.LauncherPid;

    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);
    private readonly Process? _launcher;
    private readonly Action _onGone;
    private readonly Timer _timer;
    private int _reported;

    private LauncherWatch(Process? launcher, Action onGone)
    {
        _launcher = launcher;
        _onGone = onGone;
        _timer = new Timer(_ => Check(), null, TimeSpan.Zero, Period);
    }

    /// <summary>The launcher's pid from <paramref name="pidText"/>, or null when no launcher is named.</summary>
    public static int? ParsePid(string? pidText)
    {
        if (string.IsNullOrWhiteSpace(pidText)) return null;
        if (int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0) return pid;
        throw new AccelerateException(RuntimeErrorCode.BadLauncherPid,
            $"The environment variable {Variable}='{pidText}' is not a process id. Unset it, or let `accelerate launch` set it.");
    }

    /// <summary>Starts watching <paramref name="pid"/>; <paramref name="onGone"/> runs once, on a pool thread.</summary>
    public static LauncherWatch Start(int pid, Action onGone)
    {
        Process? launcher;
        try
        {
            launcher = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            launcher = null; // already gone: the first check reports it
        }
        return new LauncherWatch(launcher, onGone);
    }

    private void Check()
    {
        bool gone;
        try
        {
            gone = _launcher is null || _launcher.HasExited;
        }
        catch (InvalidOperationException)
        {
            gone = true;
        }
        if (gone && Interlocked.Exchange(ref _reported, 1) == 0)
        {
            _timer.Dispose();
            _onGone();
        }
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _reported, 1);
        _timer.Dispose();
        _launcher?.Dispose();
    }
}
