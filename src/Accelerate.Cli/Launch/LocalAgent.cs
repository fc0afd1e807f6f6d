using System.Runtime.InteropServices;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Runs this machine's ranks: starts them, watches them, stops the others when one fails, restarts the group
/// when allowed, forwards the launcher's signals, and reports failures. With several machines, machine 0 decides
/// for the job over the <see cref="MachineLink"/>: a failure anywhere restarts or stops the ranks everywhere.
/// Runs on the launcher's main thread, which also starts every rank (see <see cref="RankProcess"/>).
/// With the c10d rendezvous, a machine that leaves (while restarts are left) ends the run with <see cref="Rejoin"/>
/// on every machine still there: the launchers meet again and go on with whoever comes, from attempt <see cref="NextAttempt"/>.
/// A machine waiting in machine 0's <see cref="RendezvousLobby"/> while every rank runs and the job is below MAX ends the
/// run the same way (GROW), without using a restart: the ranks get SIGTERM (they save a checkpoint) and the next round
/// includes the newcomer.
/// </summary>
internal sealed class LocalAgent(LaunchPlan plan, ProgramCommand program, JobIdentity job, MachineLink? link, LauncherConsole console, int firstAttempt = 0,
    RendezvousLobby? lobby = null)
{
    /// <summary>What <see cref="Run"/> returns when the job goes on with a new c10d rendezvous round.</summary>
    public const int Rejoin = -1;

    private readonly TaskCompletionSource<int> _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _secondSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _attempt = firstAttempt;
    private string _stopFile = "";

    /// <summary>The attempt the next run starts with (after <see cref="Rejoin"/>).</summary>
    public int NextAttempt => _attempt;

    /// <summary>On machine 0 after <see cref="Rejoin"/>: how many other machines of this round are expected at the next one.</summary>
    public int ExpectedBack { get; private set; }

    /// <summary>What a rank of the Accelerate runtime exits with after saving a checkpoint on pre-emption (Accelerator.PreemptedExitCode).</summary>
    private const int PreemptedExitCode = 75;

    /// <summary>Longest wait for another machine's answer during a restart or a stop.</summary>
    private TimeSpan AnswerTimeout => plan.ShutdownTimeout + TimeSpan.FromSeconds(30);

    /// <summary>Runs to the end; returns the launcher's exit code.</summary>
    public int Run()
    {
        using var registrations = new SignalRegistrations(_signal, _secondSignal);
        // Without --log_dir, error files (and --tee logs) go to a temporary folder, removed after a clean run without --tee.
        var temporary = plan.LogDirectory is null && plan.Tee == 0;
        var root = Path.Combine(plan.LogDirectory ?? CreateTemporaryFolder(), job.RunId);
        if (plan.LogDirectory is null && plan.Tee != 0) console.Info($"rank logs: {root}");
        int? exitCode = null;
        try
        {
            while (exitCode is null)
            {
                var ranks = StartAll(Path.Combine(root, $"attempt_{_attempt}"), _attempt);
                try
                {
                    exitCode = Attempt(ranks);
                }
                finally
                {
                    foreach (var rank in ranks) rank.Dispose();
                }
            }
            return exitCode.Value;
        }
        finally
        {
            // Error files of a failed run stay for inspection; a clean run leaves nothing behind.
            if (temporary && exitCode == 0) TryDelete(Path.GetDirectoryName(root)!);
        }
    }

    /// <summary>Watches one attempt to its end; returns the exit code, or null to start the next attempt.</summary>
    private int? Attempt(List<RankProcess> ranks)
    {
        var (failures, signal, message, grow) = Watch(ranks);
        if (signal is { } received)
        {
            console.Info($"received {Posix.SignalName(received)}: passing it to every rank");
            Stop(ranks, received);
            return ranks.All(r => r.Completion.IsCompleted && r.Completion.Result.ExitCode == PreemptedExitCode) ? Preempted(received) : 128 + received;
        }
        if (message is { } remote) return OnMessage(ranks, remote.Machine, remote.Line);
        if (grow) return Grow(ranks);
        if (failures.Count == 0) return Finished();
        if (failures.All(f => f.ExitCode == PreemptedExitCode))
        {
            // A rank signalled directly (e.g. SLURM's --signal without B:) saves and exits with its peers: not a failure.
            // SLURM signals the launcher too, maybe only now: that copy is the same pre-emption, not a second signal.
            Stop(ranks, Posix.SIGTERM, escalateOnFirstSignal: false);
            if (_signal.Task.IsCompleted && !_secondSignal.Task.IsCompleted) return Preempted(_signal.Task.Result);
            var what = $"rank {failures[0].Rank} was pre-empted: the ranks saved a checkpoint and exited with {PreemptedExitCode}";
            if (link is null && _attempt >= plan.MaxRestarts)
            {
                console.Info($"ACC3061: {what}; launch the job again (with ResumeFromCheckpoint = \"latest\") to go on.");
                return PreemptedExitCode;
            }
            return OnFailure(PreemptedExitCode, $"ACC3061: {what}",
                () => $"ACC3061: {what}; launch the job again (with ResumeFromCheckpoint = \"latest\") to go on.");
        }

        var stopped = Stop(ranks, Posix.SIGTERM, becauseOfFailure: true);
        var first = failures[0];
        var where = link is null ? "" : $" on machine {plan.MachineRank}";
        return OnFailure(first.ExitCode, $"rank {first.Rank}{where} failed ({first.Describe()})",
            () => FailureSummary.Format(program.DisplayName, failures, stopped, _attempt, plan.MaxRestarts));
    }

    /// <summary>The launcher was signalled and every rank saved a checkpoint and exited with 75: the job was pre-empted (ACC3060).</summary>
    private int Preempted(int signal)
    {
        console.Info($"ACC3060: pre-empted ({Posix.SignalName(signal)}): every rank saved a checkpoint and exited with {PreemptedExitCode}; launch the job again (with ResumeFromCheckpoint = \"latest\") to go on.");
        return PreemptedExitCode;
    }

    /// <summary>
    /// Machine 0, c10d: machines wait to join while every rank runs and the job is below MAX. Every machine stops its
    /// ranks with SIGTERM (they save a checkpoint, as on pre-emption) and the launchers meet again; the attempt, and with
    /// it TORCHELASTIC_RESTART_COUNT, stays: a membership change is no restart (as torchrun).
    /// </summary>
    private int Grow(List<RankProcess> ranks)
    {
        var waiting = lobby!.WaitingCount;
        console.Info($"machine 0: {waiting} machine(s) waiting to join; stopping the ranks for a new rendezvous round with up to {Math.Min(plan.NumMachines + waiting, lobby.MaxMachines)} machines " +
            "(a membership change: it uses none of --max_restarts)");
        lobby.ExpectRound();
        link!.Broadcast($"GROW {_attempt}");
        Stop(ranks, Posix.SIGTERM);
        ExpectedBack = plan.NumMachines - 1;
        return Rejoin;
    }

    /// <summary>After a failure (here, or reported by another machine): restart the group everywhere, or stop.</summary>
    private int? OnFailure(int exitCode, string what, Func<string> summary)
    {
        if (link is null || link.IsCoordinator)
        {
            var everyoneRunning = link is null || link.Done.Count == 0;
            if (_attempt < plan.MaxRestarts && everyoneRunning)
            {
                console.Info($"{what}; restarting the group (restart {_attempt + 1} of {plan.MaxRestarts})");
                link?.Broadcast($"RESTART {_attempt + 1}");
                if (link is not null && !link.AwaitAll("STOPPED", AnswerTimeout))
                {
                    link.Broadcast($"STOP {exitCode} a machine did not answer the restart after: {what}");
                    console.Error($"a machine did not answer the restart; stopping the job.\n{summary()}");
                    return exitCode;
                }
                link?.Broadcast("START");
                _attempt++;
                return null;
            }
            link?.Broadcast($"STOP {exitCode} {what}");
            console.Error(summary());
            return exitCode;
        }

        link.Send(0, $"FAILED {exitCode} {what}");
        while (link.Take(AnswerTimeout) is { } decision)
        {
            if (IsMalformed(decision.Line)) return Garbled(decision.Machine, decision.Line!);
            if (decision.Line?.StartsWith("RESTART ", StringComparison.Ordinal) == true) return Restart(decision.Line, what);
            if (decision.Line is null || decision.Line.StartsWith("STOP ", StringComparison.Ordinal)) break;
        }
        console.Error(summary());
        return exitCode;
    }

    /// <summary>A message from another machine while this machine's ranks run.</summary>
    private int? OnMessage(List<RankProcess> ranks, int machine, string? line)
    {
        var words = line?.Split(' ', 3) ?? [];
        // A rank pre-empted on another machine (FAILED 75, STOP 75) means the ranks here are saving too; a RESTART may
        // follow either, so only what is surely a failure stops the ranks here as one.
        var failure = words switch
        {
            ["FAILED" or "STOP", var code, _] => code != LaunchValues.Format(PreemptedExitCode),
            ["RESTART", _] => false,
            // A machine joining: the ranks save a checkpoint as on pre-emption, so the new round resumes from it.
            ["GROW", _] => false,
            _ => true,
        };
        if (IsMalformed(line))
        {
            Stop(ranks, Posix.SIGTERM, becauseOfFailure: true);
            return Garbled(machine, line!);
        }
        if (link!.IsCoordinator)
        {
            Stop(ranks, Posix.SIGTERM, becauseOfFailure: failure);
            if (words is ["FAILED", _, var what])
                return OnFailure(MachineLink.NumberOf(line!), what,
                    () => $"{what}. Its error and stderr are in machine {machine}'s output; the ranks here were stopped.");
            var gone = link.Gone(machine);
            if (line is null && plan.DynamicRendezvous && _attempt < plan.MaxRestarts)
            {
                // c10d: the machines still there meet again, so the job goes on without the one that left.
                console.Info($"{gone}; starting a new rendezvous round with the machines still there (restart {_attempt + 1} of {plan.MaxRestarts})");
                _attempt++;
                lobby?.ExpectRound();
                link.Broadcast($"REJOIN {_attempt}");
                ExpectedBack = Math.Max(0, plan.NumMachines - 2);
                return Rejoin;
            }
            link.Broadcast($"STOP 1 {gone}");
            console.Error($"{gone}; stopped the ranks on every machine.");
            return 1;
        }

        Stop(ranks, Posix.SIGTERM, becauseOfFailure: failure);
        if (words is ["RESTART", _]) return Restart(line!, "a rank on another machine failed");
        if (words is ["GROW", _])
        {
            console.Info("a machine is joining the job; meeting the other machines again for a new round (a membership change, no restart)");
            return Rejoin;
        }
        if (words is ["REJOIN", _])
        {
            _attempt = MachineLink.NumberOf(line!);
            console.Info($"a machine left the job; meeting the machines still there again (restart {_attempt} of {plan.MaxRestarts})");
            return Rejoin;
        }
        if (words is ["STOP", _, var reason])
        {
            console.Error($"stopped because {reason}. See machine 0's output for the failure summary.");
            return MachineLink.NumberOf(line!);
        }
        console.Error($"{link.Gone(0)}; stopped the ranks here.");
        return 1;
    }

    private static bool IsMalformed(string? line) => line?.StartsWith(MachineLink.Malformed, StringComparison.Ordinal) == true;

    /// <summary>Another machine's launcher broke the control protocol: the job cannot be coordinated any more, so it stops (ACC3041).</summary>
    private int Garbled(int machine, string line)
    {
        var what = $"error ACC3041: the launcher on machine {machine} sent a control message this launcher cannot read ({line[MachineLink.Malformed.Length..]}); " +
            "run the same accelerate version on every machine";
        if (link!.IsCoordinator) link.Broadcast($"STOP 1 machine {machine} sent a control message machine 0 cannot read");
        console.Error($"{what}. Stopped the ranks {(link.IsCoordinator ? "on every machine" : "here")}.");
        return 1;
    }

    /// <summary>Machine 0 asked for restart <c>k</c>: report stopped, wait for the go, then start attempt k.</summary>
    private int? Restart(string line, string what)
    {
        _attempt = MachineLink.NumberOf(line);
        console.Info($"{what}; restarting the group (restart {_attempt} of {plan.MaxRestarts})");
        link!.Send(0, "STOPPED");
        while (link.Take(AnswerTimeout) is { } next)
        {
            if (next.Line == "START") return null;
            if (IsMalformed(next.Line)) return Garbled(next.Machine, next.Line!);
            if (next.Line is null || next.Line.StartsWith("STOP ", StringComparison.Ordinal)) break;
        }
        console.Error("machine 0 did not restart the job; stopping.");
        return 1;
    }

    /// <summary>Every rank here exited cleanly. Machine 0 waits for the other machines to finish too.</summary>
    private int? Finished()
    {
        // The ranks here are done: no round starts any more, and a machine that waits or comes now is told so.
        lobby?.Close();
        if (link is null) return 0;
        if (!link.IsCoordinator)
        {
            link.Send(0, "DONE");
            return 0;
        }
        while (!link.AllPeersDone)
        {
            Task.WaitAny(link.Next, _signal.Task);
            if (_signal.Task.IsCompleted)
            {
                link.Broadcast($"STOP {128 + _signal.Task.Result} machine 0 received {Posix.SignalName(_signal.Task.Result)}");
                return 128 + _signal.Task.Result;
            }
            var (machine, line) = link.Take();
            if (line == "DONE" || (line is null && link.Done.Contains(machine))) continue;
            if (IsMalformed(line)) return Garbled(machine, line!);
            var words = line?.Split(' ', 3) ?? [];
            var what = words is ["FAILED", _, var text] ? text : link.Gone(machine);
            var code = words is ["FAILED", _, _] ? MachineLink.NumberOf(line!) : 1;
            link.Broadcast($"STOP {code} {what}");
            console.Error($"{what}; the ranks here had finished. See machine {machine}'s output for its failure summary.");
            return code;
        }
        return 0;
    }

    /// <summary>Folders the launcher makes (under --log_dir or the temporary one): error files and logs are for the owner only.</summary>
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// A new folder under $TMPDIR as mkdtemp makes it: a random name (nobody can create it first or guess it) and
    /// mode 0700 (nobody else can read the error files and logs in it).
    /// </summary>
    private static string CreateTemporaryFolder()
    {
        try
        {
            return Directory.CreateTempSubdirectory("accelerate-").FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LaunchException("ACC3050", $"Cannot create a folder for the ranks' error files in {Path.GetTempPath()} ({e.Message}). " +
                "Point TMPDIR at a writable folder, or pass --log_dir.", 1);
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
                try
                {
                    // The mode applies to the last folder created only: make each level the launcher owns itself.
                    foreach (var level in new[] { Path.GetDirectoryName(attemptDirectory)!, attemptDirectory, directory })
                    {
                        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(level);
                        else Directory.CreateDirectory(level, OwnerOnly);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new LaunchException("ACC3050", $"Cannot create the folder {directory} for rank logs and error files ({e.Message}). " +
                        (plan.LogDirectory is null ? "Point TMPDIR at a writable folder, or pass --log_dir." : "Pass a writable --log_dir."), 1);
                }
                var errorFile = Path.Combine(directory, "error.json");
                File.Delete(errorFile);
                _stopFile = Path.Combine(attemptDirectory, "stopping");
                File.Delete(_stopFile);
                var environment = RankEnvironment.For(plan, job, local, attempt, errorFile, _stopFile);
                var toConsole = plan.LocalRanksFilter?.Contains(local) ?? true;
                // --log_dir alone keeps both streams; --tee chooses which.
                var tee = plan.Tee != 0 ? plan.Tee : plan.LogDirectory is null ? 0 : 3;
                ranks.Add(new RankProcess(program, plan.ProgramArguments, environment, plan.MachineRank * plan.LocalProcesses + local,
                    local, errorFile, directory, tee, toConsole, plan.ShutdownTimeout, console));
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

    /// <summary>
    /// Waits until every rank succeeded, one failed (returns the failures seen), a signal came, another machine spoke,
    /// or (machine 0, c10d) a machine waits to join while every rank runs (Grow).
    /// </summary>
    private (List<RankExit> Failures, int? Signal, (int Machine, string? Line)? Message, bool Grow) Watch(List<RankProcess> ranks)
    {
        var running = ranks.Select(r => (Task)r.Completion).ToList();
        var interval = plan.MonitorInterval < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : plan.MonitorInterval;
        var newcomers = lobby?.Waiting ?? Task.Delay(Timeout.Infinite);
        while (running.Count > 0)
        {
            Task.WaitAny([.. running, _signal.Task, link?.Next ?? Task.Delay(Timeout.Infinite), newcomers], interval);
            if (_signal.Task.IsCompleted) return ([], _signal.Task.Result, null, false);
            var failures = ranks.Where(r => r.Completion.IsCompleted && r.Completion.Result.ExitCode != 0)
                .Select(r => r.Completion.Result).OrderBy(f => f.Time).ToList();
            if (failures.Count > 0) return (failures, null, null, false);
            if (link is { Next.IsCompleted: true })
            {
                var message = link.Take();
                // A machine that finished cleanly is recorded; anything else concerns the ranks here.
                if (message.Line != "DONE" && !(message.Line is null && link.Done.Contains(message.Machine))) return ([], null, message, false);
            }
            if (newcomers.IsCompleted)
            {
                // torchrun's rule: a healthy group below MAX makes room for waiting machines. Once a rank here or a
                // machine has finished the job is ending: the newcomer is told so when it ends (ACC3121).
                if (ranks.All(r => !r.Completion.IsCompleted) && link!.Done.Count == 0) return ([], null, null, true);
                newcomers = Task.Delay(Timeout.Infinite);
            }
            running.RemoveAll(t => t.IsCompleted);
        }
        return ([], null, null, false);
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to every running rank, then SIGKILL after the grace period, or at once when
    /// the launcher gets another signal meanwhile (a second Ctrl+C); returns the ranks it stopped. Stopping
    /// <paramref name="becauseOfFailure"/>, it first creates the stop file (ACCELERATE_STOP_FILE): the runtime then
    /// ends on SIGTERM as usual instead of taking it for a pre-emption and saving (which a failed rank would never join).
    /// </summary>
    private List<int> Stop(List<RankProcess> ranks, int signal, bool escalateOnFirstSignal = true, bool becauseOfFailure = false)
    {
        var running = ranks.Where(r => !r.Completion.IsCompleted).ToList();
        if (becauseOfFailure && running.Count > 0) CreateStopFile();
        var again = _signal.Task.IsCompleted || !escalateOnFirstSignal ? _secondSignal.Task : _signal.Task;
        foreach (var rank in running) rank.Signal(signal);
        var all = running.Select(r => (Task)r.Completion).ToArray();
        var stopped = Task.WhenAll(all);
        Task.WaitAny([stopped, again], plan.ShutdownTimeout);
        if (!stopped.IsCompleted)
        {
            foreach (var rank in running.Where(r => !r.Completion.IsCompleted))
            {
                console.Info(again.IsCompleted
                    ? $"rank {rank.Rank} (pid {rank.Pid}): another signal came while stopping; sending SIGKILL"
                    : $"rank {rank.Rank} (pid {rank.Pid}) did not stop within {plan.ShutdownTimeout.TotalSeconds:0.#} s of {Posix.SignalName(signal)}; sending SIGKILL");
                rank.Signal(Posix.SIGKILL);
            }
            Task.WaitAll(all, TimeSpan.FromSeconds(10));
        }
        return running.Select(r => r.Rank).ToList();
    }

    private void CreateStopFile()
    {
        try
        {
            File.WriteAllText(_stopFile, "a rank failed; the launcher stops the others\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The ranks then take SIGTERM for a pre-emption and end when they notice the failure, or at SIGKILL.
            console.Info($"cannot create the stop file {_stopFile} ({e.Message}); ranks may wait for the grace period");
        }
    }

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Turns SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1 to the launcher into a stop of every rank with the same signal.</summary>
    private sealed class SignalRegistrations : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;

        public SignalRegistrations(TaskCompletionSource<int> signal, TaskCompletionSource<int> secondSignal)
        {
            _registrations =
            [
                .. new[] { (PosixSignal.SIGINT, Posix.SIGINT), (PosixSignal.SIGTERM, Posix.SIGTERM), (PosixSignal.SIGHUP, Posix.SIGHUP), (PosixSignal.SIGQUIT, Posix.SIGQUIT) }
                    // SIGUSR1 (SLURM's --signal=B:USR1@120) asks the ranks to save and exit: pre-emption.
                    .Concat(OperatingSystem.IsLinux() ? [((PosixSignal)Posix.SIGUSR1, Posix.SIGUSR1)] : [])
                    .Select(pair => PosixSignalRegistration.Create(pair.Item1, context =>
                    {
                        context.Cancel = true;
                        if (!signal.TrySetResult(pair.Item2)) secondSignal.TrySetResult(pair.Item2);
                    })),
            ];
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }
}
