using System.Runtime.InteropServices;
using TorchSharp;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// The exit code of a process that saved a checkpoint because the job was pre-empted (75,
    /// <c>EX_TEMPFAIL</c>: try again later). <c>accelerate launch</c> reports it as a pre-emption and,
    /// with <c>--max_restarts</c>, restarts the group.
    /// </summary>
    public const int PreemptedExitCode = 75;

    // Signals reach the process, not an accelerator: one flag for all of them.
    private static int s_preemptionSignal;
    private PosixSignalRegistration[]? _preemptionSignals;

    /// <summary>True once this process received SIGTERM or SIGUSR1 while training (the job is being pre-empted).</summary>
    public static bool PreemptionRequested => Volatile.Read(ref s_preemptionSignal) != 0;

    /// <summary>The vote every synchronizing step's gradient all-reduce carries.</summary>
    private readonly PreemptionVote _preemptionVote = new(() => Volatile.Read(ref s_preemptionSignal));

    /// <summary>Separate one-number all-reduces the pre-emption flag needed because no gradient bucket could carry it.</summary>
    internal long SeparatePreemptionVotes { get; private set; }

    /// <summary>
    /// Called by <see cref="Backward"/> before the backward pass: on a synchronizing step, which every
    /// rank takes at the same step (the gradient all-reduce needs it), every rank's pre-emption flag
    /// travels with the gradients (<see cref="PreemptionVote"/>), so all of them learn at the same step
    /// that one was signalled and none ever waits in a collective the others skipped (a loader fetch
    /// would not do: ranks may read different numbers of batches, or evaluate on one rank only).
    /// Returns whether this backward votes.
    /// </summary>
    private bool StartPreemptionVote()
    {
        // Only a loop over a prepared loader has a boundary to save at (and then listens for signals).
        if (!SyncGradients || _loaders.Count == 0) return false;
        _preemptionVote.Reset();
        return true;
    }

    /// <summary>
    /// After the backward pass: what the gradient all-reduce carried. When no bucket carried it (one
    /// process, or synchronizing models without trainable parameters: the same on every rank), the flag
    /// takes a one-number all-reduce of its own.
    /// </summary>
    private void FinishPreemptionVote()
    {
        if (_preemptionVote.Carried > 0)
        {
            _agreedPreemption = _preemptionVote.Agreed;
            return;
        }
        var signal = Volatile.Read(ref s_preemptionSignal);
        if (UseDistributed)
        {
            Span<int> agreed = [signal];
            Group!.AllReduce(agreed, Distributed.ReduceOp.Max);
            signal = agreed[0];
            SeparatePreemptionVotes++;
        }
        _agreedPreemption = signal;
    }

    /// <summary>
    /// Called when a prepared loader fetches a batch, the step before being over: after every rank
    /// agreed on a pre-emption, every rank saves a checkpoint and the process exits with
    /// <see cref="PreemptedExitCode"/>.
    /// </summary>
    internal void AtStepBoundary()
    {
        ListenForPreemption();
        if (_agreedPreemption is not (var signal and not 0)) return;
        _preempting = true;
        var folder = SaveState();
        if (IsMainProcess)
            Console.Error.WriteLine($"{RuntimeErrorCode.Preempted}: the job is being pre-empted ({SignalName(signal)}): saved {folder} after step {Step}; exiting with {PreemptedExitCode}. Start it again with ResumeFromCheckpoint = \"latest\" to go on from there.");
        Console.Error.Flush();
        System.Environment.Exit(PreemptedExitCode);
    }

    private int _agreedPreemption;
    private bool _preempting;

    /// <summary>
    /// From the first batch of a prepared loader on, SIGTERM and SIGUSR1 ask for a save at a step boundary; a second
    /// one ends the process as usual. Under <c>accelerate launch</c> later copies are swallowed instead: a rank may get
    /// each signal twice (SLURM signals every process of a step, the launcher's ranks too, and the launcher passes its
    /// own copy on), and the launcher itself ends ranks that outlive a second signal to it (SIGKILL). A launcher that
    /// stops the ranks because one failed creates its stop file first: then SIGTERM ends the process as usual, since a
    /// save the failed rank cannot join would never come.
    /// </summary>
    private void ListenForPreemption()
    {
        if (_preemptionSignals is not null) return;
        var signals = new List<(PosixSignal Signal, int Number)> { (PosixSignal.SIGTERM, 15) };
        if (OperatingSystem.IsLinux()) signals.Add(((PosixSignal)10, 10));
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) signals.Add(((PosixSignal)30, 10));
        var launched = !string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable(LaunchVariables.LauncherPid));
        var stopFile = System.Environment.GetEnvironmentVariable(LaunchVariables.StopFile);
        _preemptionSignals = signals.Select(s => PosixSignalRegistration.Create(s.Signal, context =>
        {
            if (launched && s.Number == 15 && !string.IsNullOrEmpty(stopFile) && File.Exists(stopFile)) return;
            if (Interlocked.CompareExchange(ref s_preemptionSignal, s.Number, 0) == 0 || launched) context.Cancel = true;
        })).ToArray();
    }

    /// <summary>Stops turning signals into a save: after training they end the process as usual.</summary>
    private void StopListeningForPreemption()
    {
        foreach (var registration in _preemptionSignals ?? []) registration.Dispose();
        _preemptionSignals = [];
    }

    private static string SignalName(int signal) => signal switch { 15 => "SIGTERM", 10 => "SIGUSR1", _ => "signal " + signal };
}
