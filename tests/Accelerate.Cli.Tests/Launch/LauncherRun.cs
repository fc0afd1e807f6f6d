using System.Diagnostics;
using System.Reflection;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// <c>dotnet accelerate.dll launch ...</c> running as a real child process, with its output collected line by line
/// so tests can wait on a line or on its exit. Disposing kills it and everything it started.
/// With ACCELERATE_TEST_LAUNCHER set to a native launcher (<c>dotnet publish src/Accelerate.Cli -r linux-x64
/// -p:AcceleratePublishNative=true</c>), every test runs that executable instead.
/// </summary>
internal sealed class LauncherRun : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _outClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static string AccelerateDll => Metadata("AccelerateDll");
    public static string RankProbeDll => Metadata("RankProbeDll");

    private readonly DirectoryInfo _temporary = Directory.CreateTempSubdirectory("accelerate-launch-test-");

    private LauncherRun(ProcessStartInfo start, bool tmpdirGiven)
    {
        // The launcher keeps a failed run's error files in the temporary folder: give each run its own, removed on dispose.
        if (!tmpdirGiven) start.Environment["TMPDIR"] = _temporary.FullName;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Add(e.Data, _stdout, _outClosed);
        _process.ErrorDataReceived += (_, e) => Add(e.Data, _stderr, _errClosed);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// Starts <c>dotnet accelerate.dll launch args...</c> (or another <paramref name="subcommand"/>);
    /// <paramref name="prefix"/> runs it inside another command (e.g. ip netns exec).
    /// </summary>
    public static LauncherRun Start(IEnumerable<string> args, IDictionary<string, string?>? environment = null, IEnumerable<string>? prefix = null, string subcommand = "launch")
    {
        var command = (prefix ?? []).Concat(Launcher).Append(subcommand).Concat(args).ToList();
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        // A clean contract: nothing from the test host's own environment leaks into the ranks.
        foreach (var name in new[] { "OMP_NUM_THREADS", "ACCELERATE_LAUNCH_SECRET", "ACCELERATE_RDZV_TIMEOUT", "ACCELERATE_MAIN_TRAINING_FUNCTION", "TORCH_ELASTIC_SHUTDOWN_TIMEOUT" })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        return new LauncherRun(start, tmpdirGiven: environment?.ContainsKey("TMPDIR") == true);
    }

    /// <summary>Launches RankProbe with <paramref name="options"/> and then its <paramref name="probeArgs"/>.</summary>
    public static LauncherRun Probe(string[] options, params string[] probeArgs)
        => Start(options.Concat([RankProbeDll]).Concat(probeArgs));

    /// <summary>How the launcher is started: <c>dotnet accelerate.dll</c>, or the native launcher ACCELERATE_TEST_LAUNCHER names.</summary>
    public static string[] Launcher => Environment.GetEnvironmentVariable("ACCELERATE_TEST_LAUNCHER") is { Length: > 0 } native ? [native] : [DotnetHost, AccelerateDll];

    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Process.GetCurrentProcess().MainModule?.FileName is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    public int Pid => _process.Id;

    /// <summary>The launcher's TMPDIR: a folder of this run's own.</summary>
    public string TemporaryFolder => _temporary.FullName;

    /// <summary>Every line so far, stdout and stderr in arrival order.</summary>
    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }
    public IReadOnlyList<string> Stdout { get { lock (_lines) return [.. _stdout]; } }
    public IReadOnlyList<string> Stderr { get { lock (_lines) return [.. _stderr]; } }
    public string AllOutput => string.Join('\n', Lines);

    /// <summary>Waits for a line matching <paramref name="match"/>; fails the test with the output so far on timeout.</summary>
    public string WaitForLine(Func<string, bool> match, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        lock (_lines)
        {
            while (true)
            {
                var found = _lines.FirstOrDefault(match);
                if (found is not null) return found;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || (_outClosed.Task.IsCompleted && _errClosed.Task.IsCompleted))
                    throw new AssertFailedException($"No matching line within {seconds} s. Output:\n{string.Join('\n', _lines)}");
                Monitor.Wait(_lines, left);
            }
        }
    }

    /// <summary>Waits for <paramref name="count"/> lines matching <paramref name="match"/>.</summary>
    public IReadOnlyList<string> WaitForLines(Func<string, bool> match, int count, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        lock (_lines)
        {
            while (true)
            {
                var found = _lines.Where(match).ToList();
                if (found.Count >= count) return found;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || (_outClosed.Task.IsCompleted && _errClosed.Task.IsCompleted))
                    throw new AssertFailedException($"{found.Count} of {count} matching lines within {seconds} s. Output:\n{string.Join('\n', _lines)}");
                Monitor.Wait(_lines, left);
            }
        }
    }

    /// <summary>Waits for the launcher to exit and its output to end; returns its exit code.</summary>
    public int WaitForExit(int seconds = 60)
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(seconds)))
            throw new AssertFailedException($"The launcher did not exit within {seconds} s. Output:\n{AllOutput}");
        Task.WaitAll([_outClosed.Task, _errClosed.Task], TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    /// <summary>Sends a signal to the launcher process.</summary>
    public void Signal(int signal) => Processes.Signal(_process.Id, signal);

    private void Add(string? line, List<string> stream, TaskCompletionSource closed)
    {
        lock (_lines)
        {
            if (line is null) closed.TrySetResult();
            else
            {
                _lines.Add(line);
                stream.Add(line);
            }
            Monitor.PulseAll(_lines);
        }
    }

    private static string Metadata(string key) =>
        typeof(LauncherRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { _temporary.Delete(recursive: true); }
        catch (IOException) { }
    }
}
