using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Accelerate.Generators.Tests;

/// <summary>
/// A real process started by a test: collects its output lines, waits for a line or its exit with
/// a timeout, and kills its whole tree when disposed (also when the test fails).
/// </summary>
internal sealed class RunningProgram : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly BlockingCollection<string> _stdoutLines = new();
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RunningProgram(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _stdoutLines.CompleteAdding();
                _stdoutClosed.TrySetResult();
                return;
            }
            _stdout.Enqueue(e.Data);
            _stdoutLines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) _stderrClosed.TrySetResult();
            else _stderr.Enqueue(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts <c>dotnet <paramref name="assembly"/> args</c> with <paramref name="environment"/> added (a null value removes a variable).</summary>
    public static RunningProgram StartDotnet(string assembly, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null) =>
        Start("dotnet", [assembly, .. arguments], Path.GetDirectoryName(assembly)!, environment);

    /// <summary>Starts <paramref name="program"/> with <paramref name="environment"/> added (a null value removes a variable).</summary>
    public static RunningProgram Start(string program, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // A test runs under no launcher unless it says so.
        foreach (var name in LaunchVariables) start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        return new RunningProgram(Process.Start(start)!);
    }

    private static readonly string[] LaunchVariables =
    [
        "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "TORCHELASTIC_RUN_ID", "TORCHELASTIC_ERROR_FILE", "ACCELERATE_LAUNCHER_PID", "ACCELERATE_MAIN_TRAINING_FUNCTION",
        "ACCELERATE_LAUNCH_SECRET", "ACCELERATE_RDZV_TIMEOUT",
    ];

    public int Id => _process.Id;

    public string StandardOutput => string.Join("\n", _stdout);

    public string StandardError => string.Join("\n", _stderr);

    /// <summary>Waits until the program prints a line containing <paramref name="text"/>.</summary>
    public void WaitForLine(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            string? line = null;
            if (left <= TimeSpan.Zero || !_stdoutLines.TryTake(out line, left))
                Assert.Fail($"The program did not print '{text}' in time (or it exited).\n{Describe()}");
            if (line!.Contains(text, StringComparison.Ordinal)) return;
        }
    }

    /// <summary>Waits for the exit and for all output, and returns the exit code.</summary>
    public int WaitForExit(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? DefaultTimeout))
            Assert.Fail($"The program did not exit within {(timeout ?? DefaultTimeout).TotalSeconds} s.\n{Describe()}");
        Task.WaitAll([_stdoutClosed.Task, _stderrClosed.Task], TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    public string Describe() => $"stdout:\n{StandardOutput}\nstderr:\n{StandardError}";

    /// <summary>Sends a Unix signal, as a terminal or a launcher would.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) Assert.Fail($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }
        _process.Dispose();
    }
}
