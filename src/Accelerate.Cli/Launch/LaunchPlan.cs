using Accelerate.Configuration;

namespace Accelerate.Cli.Launch;

/// <summary>Everything a launch needs, after the command line, the config file, the environment and defaults are combined.</summary>
internal sealed record LaunchPlan
{
    /// <summary>The program as given (a .dll, an executable, or a project).</summary>
    public required string Program { get; init; }
    /// <summary>Arguments passed to the program untouched.</summary>
    public required IReadOnlyList<string> ProgramArguments { get; init; }
    /// <summary>Run on CPU (ACCELERATE_USE_CPU).</summary>
    public bool UseCpu { get; init; }
    /// <summary>One process per GPU.</summary>
    public bool MultiGpu { get; init; }
    /// <summary>Precision the ranks train in (ACCELERATE_MIXED_PRECISION).</summary>
    public MixedPrecision MixedPrecision { get; init; } = MixedPrecision.No;
    /// <summary>Processes across all machines (WORLD_SIZE).</summary>
    public int NumProcesses { get; init; } = 1;
    /// <summary>Machines (GROUP_WORLD_SIZE).</summary>
    public int NumMachines { get; init; } = 1;
    /// <summary>This machine's index (GROUP_RANK).</summary>
    public int MachineRank { get; init; }
    /// <summary>Processes on this machine (LOCAL_WORLD_SIZE).</summary>
    public int LocalProcesses => NumProcesses / NumMachines;
    /// <summary>Address of machine 0 (MASTER_ADDR).</summary>
    public string MainProcessIp { get; init; } = "127.0.0.1";
    /// <summary>Rendezvous port; 0 picks a free one (single machine only).</summary>
    public int MainProcessPort { get; init; }
    /// <summary>
    /// The c10d rendezvous: every machine runs the same command, the launcher that can bind
    /// <see cref="MainProcessIp"/>:<see cref="MainProcessPort"/> hosts the meeting and gives out machine ranks.
    /// </summary>
    public bool DynamicRendezvous { get; init; }
    /// <summary>c10d: machines the job may start with (<c>--nnodes MIN:MAX</c>); <see cref="NumMachines"/> is the most.</summary>
    public int MinMachines { get; init; } = 1;
    /// <summary>c10d: once <see cref="MinMachines"/> have joined, how long the host waits for more before starting.</summary>
    public TimeSpan LastCallTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long machines and ranks wait for each other.</summary>
    public TimeSpan RendezvousTimeout { get; init; } = TimeSpan.FromSeconds(900);
    /// <summary>Job id, or null for a new random one.</summary>
    public string? RunId { get; init; }
    /// <summary>Group restarts allowed after a failure.</summary>
    public int MaxRestarts { get; init; }
    /// <summary>Upper bound between checks of the ranks.</summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>Grace a rank gets between SIGTERM and SIGKILL.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Streams also written to per-rank files: bit 1 stdout, bit 2 stderr.</summary>
    public int Tee { get; init; }
    /// <summary>Directory for per-rank logs and error files, or null for a temporary one.</summary>
    public string? LogDirectory { get; init; }
    /// <summary>Local ranks whose output reaches the console, or null for all.</summary>
    public IReadOnlySet<int>? LocalRanksFilter { get; init; }
    /// <summary>ROLE_NAME.</summary>
    public string Role { get; init; } = "default";
    /// <summary>OMP_NUM_THREADS for each rank.</summary>
    public int ThreadsPerProcess { get; init; } = 1;
    /// <summary>ACCELERATE_GRADIENT_ACCUMULATION_STEPS.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>CUDA_VISIBLE_DEVICES, or null to leave it alone (<c>all</c>).</summary>
    public string? GpuIds { get; init; }
    /// <summary>ACCELERATE_DEBUG_MODE and the settings table.</summary>
    public bool Debug { get; init; }
    /// <summary>Only rank output, errors and the failure summary.</summary>
    public bool Quiet { get; init; }
    /// <summary>Print the settings and exit.</summary>
    public bool PrintConfigOnly { get; init; }
    /// <summary>Run a .dll as an executable.</summary>
    public bool NoPython { get; init; }
    /// <summary>ACCELERATE_MAIN_TRAINING_FUNCTION, or null to leave it to the program.</summary>
    public string? MainTrainingFunction { get; init; }

    /// <summary>HF's <c>mpirun_hostfile</c>: the ranks are started by <c>mpirun --hostfile</c> (CPU only), or null.</summary>
    public string? MpirunHostfile { get; init; }
    /// <summary>Every effective setting and its origin.</summary>
    public IReadOnlyList<EffectiveSetting> Settings { get; init; } = [];
    /// <summary>Things the user may not expect about this launch, printed before it starts.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>The "defaults used" message, or null when a config file or flags covered them.</summary>
    public string? DefaultsMessage { get; init; }
}
