using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Accelerate.Distributed;

namespace Accelerate.Hosting;

/// <summary>
/// Runs a program's <see cref="TrainingFunctionAttribute">[TrainingFunction]</see> in this process:
/// the entry point the source generator writes is one call to <see cref="Run(string[], string, TrainingFunction[])"/>.
/// </summary>
/// <remarks>
/// Reads the launch contract; when ranks were launched (by <c>accelerate launch</c>, <c>torchrun</c>-style
/// environment, <c>mpirun</c> or <c>srun</c>) joins the process group, else runs as one process;
/// cancels the function's token on Ctrl+C/SIGTERM and when the launcher is gone; on an exception
/// prints <c>[rank N] exception</c> to stderr (<c>accelerate launch</c> adds the prefix itself), writes torchrun's error record to
/// <c>TORCHELASTIC_ERROR_FILE</c> and exits 1; always leaves the process group. A first argument
/// <c>-t:AccelerateLaunch</c> (what <c>dotnet run -t:AccelerateLaunch</c> passes) starts the launch Accelerate.Sdk
/// wrote next to the program instead (see <see cref="RunLaunch"/>).
/// </remarks>
[DebuggerNonUserCode]
// Called by the generated entry point, not by user code: hidden from completion.
[EditorBrowsable(EditorBrowsableState.Never)]
public static class TrainingHost
{
    /// <summary>The variable the launcher sets from <c>--main_training_function</c>.</summary>
    public const string MainTrainingFunctionVariable = LaunchVariables.MainTrainingFunction;

    /// <summary>Exit code when an exception escapes the training function.</summary>
    public const int ExceptionExitCode = 1;

    /// <summary>Exit code when the program cannot start the function (selection, malformed environment).</summary>
    public const int SetupErrorExitCode = 2;

    /// <summary>Exit code when the launcher disappeared and this rank stopped.</summary>
    public const int LauncherGoneExitCode = 3;

    /// <summary>Runs the selected training function and returns the process exit code.</summary>
    /// <param name="args">The program's command-line arguments.</param>
    /// <param name="buildChoice">The MSBuild <c>MainTrainingFunction</c> the program was built with, or null.</param>
    /// <param name="functions">Every [TrainingFunction] of the program.</param>
    [DebuggerStepThrough]
    public static int Run(string[] args, string? buildChoice, params TrainingFunction[] functions) =>
        Run(args, buildChoice, functions, HostOptions.Process);

    /// <summary>What the host touches outside itself; tests replace parts of it.</summary>
    internal sealed record HostOptions(
        Func<string, string?> Variables,
        TextWriter Error,
        Action<int> Exit,
        bool HandleSignals,
        TimeSpan LauncherGoneGrace)
    {
        public static HostOptions Process => new(
            System.Environment.GetEnvironmentVariable, Console.Error, System.Environment.Exit, true, TimeSpan.FromSeconds(3));

        /// <summary>The launch command Accelerate.Sdk wrote next to the program, for <c>dotnet run -t:AccelerateLaunch</c>; null when there is none.</summary>
        public Func<RunLaunch?> FindRunLaunch { get; init; } = RunLaunch.Find;
    }

    /// <summary>True in a process some launcher started as a rank (accelerate launch, torchrun-style variables).</summary>
    private static bool IsLaunchedRank(Func<string, string?> variables) =>
        !string.IsNullOrEmpty(variables(LauncherWatch.Variable)) || !string.IsNullOrEmpty(variables(LaunchVariables.Rank)) || !string.IsNullOrEmpty(variables(LaunchVariables.WorldSize));

    [DebuggerStepThrough]
    internal static int Run(string[] args, string? buildChoice, IReadOnlyList<TrainingFunction> functions, HostOptions options)
    {
        var rank = ReadRankForMessages(options.Variables);
        if (args is [RunLaunch.Argument, .. var rest] && options.FindRunLaunch() is { } launch)
        {
            // A rank the launcher started (dotnet run -p:NumProcesses=2 -t:AccelerateLaunch passes the argument on) just trains.
            if (!IsLaunchedRank(options.Variables))
            {
                try
                {
                    return launch.Run(rest);
                }
                catch (AccelerateException e)
                {
                    options.Error.WriteLine(e.Message);
                    return SetupErrorExitCode;
                }
            }
            args = rest;
        }
        // `accelerate launch` prefixes every line of a rank's output itself; elsewhere (F5, mpirun, srun) we do.
        var prefixed = string.IsNullOrEmpty(options.Variables(LauncherWatch.Variable));
        void Say(string line) => options.Error.WriteLine(prefixed ? $"[rank {rank}] {line}" : line);

        using var cancellation = new CancellationTokenSource();
        using var signals = options.HandleSignals ? new SignalCancellation(cancellation, Say) : null;
        LauncherWatch? watch = null;
        var finished = 0;
        var launcherGone = 0;
        TrainingContext? context = null;
        try
        {
            DistributedEnvironment environment;
            TrainingFunction function;
            try
            {
                environment = LaunchContract.Read(options.Variables);
                rank = environment.Rank;
                var selection = TrainingFunctionSelector.Select(functions, options.Variables(MainTrainingFunctionVariable), buildChoice);
                if (selection.Warning is not null) Say("warning: " + selection.Warning);
                function = selection.Function;
                if (LauncherWatch.ParsePid(options.Variables(LauncherWatch.Variable)) is { } launcherPid)
                    watch = LauncherWatch.Start(launcherPid, () => OnLauncherGone(launcherPid));
            }
            catch (AccelerateException e)
            {
                Say(e.Message);
                WriteErrorRecord(e);
                return SetupErrorExitCode;
            }

            try
            {
                // The process group reads its own settings (ACCELERATE_RDZV_TIMEOUT, backend).
                if (environment.IsDistributed) DistributedState.Initialize();
                context = new TrainingContext(args, cancellation.Token);
                return function.InvokeAsync(context).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested && signals?.Received is > 0)
            {
                var signal = signals.Received;
                Say($"stopped by signal {signal}.");
                return 128 + signal;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested && Volatile.Read(ref launcherGone) == 1)
            {
                return LauncherGoneExitCode;
            }
            catch (Exception e)
            {
                if (MixedPrecisionMismatch.Explain(e, context?.CreatedAccelerator) is { } explained)
                {
                    // The libtorch message's C++ stack says nothing the code does not; the .NET stack shows the line.
                    Say($"{explained.GetType().FullName}: {explained.Message}{System.Environment.NewLine}{e.StackTrace}");
                    WriteErrorRecord(explained);
                    return ExceptionExitCode;
                }
                Say(e.ToString());
                WriteErrorRecord(e);
                return ExceptionExitCode;
            }
        }
        finally
        {
            Interlocked.Exchange(ref finished, 1);
            watch?.Dispose();
            TearDown(context, Say);
        }

        void WriteErrorRecord(Exception e)
        {
            if (options.Variables(TrainingErrorFile.Variable) is { Length: > 0 } path &&
                TrainingErrorFile.TryWrite(path, e, DateTimeOffset.UtcNow) is { } problem)
                Say("warning: " + problem);
        }

        void OnLauncherGone(int pid)
        {
            if (Volatile.Read(ref finished) == 1) return; // the function returned meanwhile
            Say($"{RuntimeErrorCode.LauncherGone}: the launcher (pid {pid}) is gone; this rank stops so that it does not outlive it. " +
                "Launch again to restart the job.");
            Volatile.Write(ref launcherGone, 1);
            SignalCancellation.CancelQuietly(cancellation);
            // Give the function a moment to notice its token; then stop whatever it is doing.
            Task.Delay(options.LauncherGoneGrace).ContinueWith(_ =>
            {
                if (Volatile.Read(ref finished) == 0) options.Exit(LauncherGoneExitCode);
            }, TaskScheduler.Default);
        }
    }

    private static void TearDown(TrainingContext? context, Action<string> say)
    {
        try
        {
            (context?.CreatedAccelerator as IDisposable)?.Dispose();
        }
        catch (Exception e)
        {
            say("warning: disposing the Accelerator failed: " + e.Message);
        }
        try
        {
            DistributedState.Shutdown();
        }
        catch (Exception e)
        {
            say("warning: leaving the process group failed: " + e.Message);
        }
    }

    private static int ReadRankForMessages(Func<string, string?> variables) =>
        int.TryParse(variables("RANK"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var rank) ? rank : 0;
}
