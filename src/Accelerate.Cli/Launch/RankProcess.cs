using System.Diagnostics;

namespace Accelerate.Cli.Launch;

/// <summary>
/// One running rank: its process (started so that it dies with the launcher and leads its own process group),
/// its output pumped line by line to the console and tee files, and the tail of its stderr. When the rank exits,
/// whatever it left running in its process group is stopped too (as torchrun does), so that nothing holds its
/// ports or memory into the next attempt.
/// </summary>
internal sealed class RankProcess : IDisposable
{
    private const int TailLines = 20;
    private static readonly string? DeathSignalWrapper = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null;
    private static readonly string? SessionWrapper = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : null;

    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StreamWriter? _stdoutFile;
    private readonly StreamWriter? _stderrFile;
    private readonly TimeSpan _shutdownTimeout;

    /// <summary>Global rank.</summary>
    public int Rank { get; }
    /// <summary>Rank on this machine.</summary>
    public int LocalRank { get; }
    /// <summary>Process id.</summary>
    public int Pid { get; }
    /// <summary>Completes when the process has exited and its output is drained.</summary>
    public Task<RankExit> Completion { get; }

    /// <summary>
    /// Starts a rank. Must be called from a thread that lives as long as the launcher: the kernel's parent-death
    /// signal fires when the forking thread ends, not the process.
    /// </summary>
    public RankProcess(ProgramCommand program, IReadOnlyList<string> programArguments, IReadOnlyDictionary<string, string> environment,
        int rank, int localRank, string errorFile, string logDirectory, int tee, bool toConsole, TimeSpan shutdownTimeout, LauncherConsole console)
    {
        _shutdownTimeout = shutdownTimeout;
        Rank = rank;
        LocalRank = localRank;
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var command = new List<string>();
        // setpriv: SIGKILL when the launcher dies, even by SIGKILL. setsid: own process group, so a stop reaches the
        // rank's children too and a terminal's Ctrl+C reaches the launcher only, which forwards it.
        if (DeathSignalWrapper is not null) command.AddRange([DeathSignalWrapper, "--pdeathsig", "KILL", "--"]);
        if (SessionWrapper is not null) command.AddRange([SessionWrapper, "--"]);
        command.Add(program.FileName);
        command.AddRange(program.Arguments);
        command.AddRange(programArguments);
        start.FileName = command[0];
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment) start.Environment[name] = value;

        if (tee != 0)
        {
            if ((tee & 1) != 0) _stdoutFile = OwnerOnlyLog(Path.Combine(logDirectory, "stdout.log"));
            if ((tee & 2) != 0) _stderrFile = OwnerOnlyLog(Path.Combine(logDirectory, "stderr.log"));
        }

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { _stdoutClosed.TrySetResult(); return; }
            _stdoutFile?.WriteLine(e.Data);
            if (toConsole) console.RankLine(rank, e.Data, isError: false);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { _stderrClosed.TrySetResult(); return; }
            _stderrFile?.WriteLine(e.Data);
            lock (_tail)
            {
                _tail.Enqueue(e.Data);
                if (_tail.Count > TailLines) _tail.Dequeue();
            }
            if (toConsole) console.RankLine(rank, e.Data, isError: true);
        };
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.Exited += (_, _) => exited.TrySetResult();
        try
        {
            _process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new LaunchException(LaunchErrorCode.ProgramNotFound, $"Could not start '{program.FileName}': {e.Message}. Check that it exists and is executable.", 1);
        }
        Pid = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Completion = Finish(exited.Task, errorFile);
    }

    /// <summary>Sends <paramref name="signal"/> to the rank and its process group.</summary>
    public void Signal(int signal)
    {
        if (!Completion.IsCompleted) Posix.SignalTree(Pid, signal);
    }

    /// <summary>A rank's log, readable by the owner only (it may hold anything the program prints).</summary>
    private static StreamWriter OwnerOnlyLog(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return new StreamWriter(new FileStream(path, options)) { AutoFlush = true };
    }

    private async Task<RankExit> Finish(Task exited, string errorFile)
    {
        await exited.ConfigureAwait(false);
        var time = DateTimeOffset.Now;
        if (SessionWrapper is not null) await StopLeftovers().ConfigureAwait(false);
        // A child the rank left behind may hold its pipes open; do not wait on it for long.
        await Task.WhenAny(Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        string[] tail;
        lock (_tail) tail = [.. _tail];
        return new RankExit(Rank, LocalRank, Pid, _process.ExitCode, time, tail, errorFile);
    }

    /// <summary>
    /// Stops what the rank left in its process group: SIGTERM, then SIGKILL after the shutdown grace period.
    /// Only the group is signalled, never the pid alone, which may already belong to another process.
    /// </summary>
    private async Task StopLeftovers()
    {
        if (!Posix.SignalGroup(Pid, Posix.SIGTERM)) return;
        var deadline = DateTime.UtcNow + _shutdownTimeout;
        // Orphans are not this process's children and cannot be waited on; poll the group with a short pause.
        while (Posix.GroupExists(Pid) && DateTime.UtcNow < deadline) await Task.Delay(20).ConfigureAwait(false);
        Posix.SignalGroup(Pid, Posix.SIGKILL);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _process.Dispose();
        _stdoutFile?.Dispose();
        _stderrFile?.Dispose();
    }
}
