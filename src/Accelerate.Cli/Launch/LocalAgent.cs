using System.Runtime.InteropServices;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Runs this machine's ranks: starts them, watches them, stops the others when one fails, restarts the group
/// when allowed, forwards the launcher's signals, and reports failures. Runs on the launcher's main thread,
/// which also starts every rank (see <see cref="RankProcess"/>).
/// </summary>
internal sealed class LocalAgent(LaunchPlan plan, ProgramCommand program, JobIdentity job, LauncherConsole console)
{
    private readonly TaskCompletionSource<int> _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Runs to the end; returns the launcher's exit code.</summary>
    public int Run()
    {
        using var registrations = new SignalRegistrations(_signal);
        // Without --log_dir, error files (and --tee logs) go to a temporary folder, removed after a clean run without --tee.
        var temporary = plan.LogDirectory is null && plan.Tee == 0;
        var root = Path.Combine(plan.LogDirectory ?? Path.Combine(Path.GetTempPath(), $"accelerate-{Environment.ProcessId}"), job.RunId);
        if (plan.LogDirectory is null && plan.Tee != 0) console.Info($"rank logs: {root}");
        var failed = false;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var ranks = StartAll(Path.Combine(root, $"attempt_{attempt}"), attempt);
                try
                {
                    var (failures, signal) = Watch(ranks);
                    if (signal is { } received)
                    {
                        console.Info($"received {Posix.SignalName(received)}: passing it to every rank");
                        Stop(ranks, received);
                        failed = true;
                        return 128 + received;
                    }
                    if (failures.Count == 0) return 0;

                    failed = true;
                    var stopped = Stop(ranks, Posix.SIGTERM);
                    if (attempt < plan.MaxRestarts)
                    {
                        console.Info($"rank {failures[0].Rank} failed ({failures[0].Describe()}); restarting the group (restart {attempt + 1} of {plan.MaxRestarts})");
                        continue;
                    }
                    console.Error(FailureSummary.Format(program.DisplayName, failures, stopped, attempt, plan.MaxRestarts));
                    return failures[0].ExitCode;
                }
                finally
                {
                    foreach (var rank in ranks) rank.Dispose();
                }
            }
        }
        finally
        {
            // Error files of a failed run stay for inspection; a clean run leaves nothing behind.
            if (temporary && !failed) TryDelete(Path.GetDirectoryName(root)!);
        }
    }

    private List<RankProcess> StartAll(string attemptDirectory, int attempt)
    {
        var ranks = new List<RankProcess>(plan.LocalProcesses);
        try
        {
            for (var local = 0; local < plan.LocalProcesses; local++)
            {
                var directory = Path.Combine(attemptDirectory, local.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Directory.CreateDirectory(directory);
                var errorFile = Path.Combine(directory, "error.json");
                File.Delete(errorFile);
                var environment = RankEnvironment.For(plan, job, local, attempt, errorFile);
                var toConsole = plan.LocalRanksFilter?.Contains(local) ?? true;
                // --log_dir alone keeps both streams; --tee chooses which.
                var tee = plan.Tee != 0 ? plan.Tee : plan.LogDirectory is null ? 0 : 3;
                ranks.Add(new RankProcess(program, plan.ProgramArguments, environment, plan.MachineRank * plan.LocalProcesses + local,
                    local, errorFile, directory, tee, toConsole, console));
            }
        }
        catch
        {
            Stop(ranks, Posix.SIGKILL);
            foreach (var rank in ranks) rank.Dispose();
            throw;
        }
        return ranks;
    }

    /// <summary>Waits until every rank succeeded, one failed (returns the failures seen), or a signal came.</summary>
    private (List<RankExit> Failures, int? Signal) Watch(List<RankProcess> ranks)
    {
        var pending = ranks.Select(r => (Task)r.Completion).ToList();
        pending.Add(_signal.Task);
        while (pending.Count > 1)
        {
            Task.WaitAny([.. pending], plan.MonitorInterval < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : plan.MonitorInterval);
            if (_signal.Task.IsCompleted) return ([], _signal.Task.Result);
            var failures = ranks.Where(r => r.Completion.IsCompleted && r.Completion.Result.ExitCode != 0)
                .Select(r => r.Completion.Result).OrderBy(f => f.Time).ToList();
            if (failures.Count > 0) return (failures, null);
            pending.RemoveAll(t => t.IsCompleted);
        }
        return ([], null);
    }

    /// <summary>Sends <paramref name="signal"/> to every running rank, then SIGKILL after the grace period; returns the ranks it stopped.</summary>
    private List<int> Stop(List<RankProcess> ranks, int signal)
    {
        var running = ranks.Where(r => !r.Completion.IsCompleted).ToList();
        foreach (var rank in running) rank.Signal(signal);
        var all = running.Select(r => (Task)r.Completion).ToArray();
        if (!Task.WaitAll(all, plan.ShutdownTimeout))
        {
            foreach (var rank in running.Where(r => !r.Completion.IsCompleted))
            {
                console.Info($"rank {rank.Rank} (pid {rank.Pid}) did not stop within {plan.ShutdownTimeout.TotalSeconds:0.#} s of {Posix.SignalName(signal)}; sending SIGKILL");
                rank.Signal(Posix.SIGKILL);
            }
            Task.WaitAll(all, TimeSpan.FromSeconds(10));
        }
        return running.Select(r => r.Rank).ToList();
    }

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Turns SIGINT, SIGTERM, SIGHUP and SIGQUIT to the launcher into a stop of every rank with the same signal.</summary>
    private sealed class SignalRegistrations : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;

        public SignalRegistrations(TaskCompletionSource<int> signal)
        {
            _registrations =
            [
                .. new[] { (PosixSignal.SIGINT, Posix.SIGINT), (PosixSignal.SIGTERM, Posix.SIGTERM), (PosixSignal.SIGHUP, Posix.SIGHUP), (PosixSignal.SIGQUIT, Posix.SIGQUIT) }
                    .Select(pair => PosixSignalRegistration.Create(pair.Item1, context =>
                    {
                        context.Cancel = true;
                        signal.TrySetResult(pair.Item2);
                    })),
            ];
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }
}
