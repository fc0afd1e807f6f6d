using Accelerate.Configuration;

namespace Accelerate.Cli.Launch;

/// <summary>The config-file settings a launch uses, as plain values, with the file they came from.</summary>
internal sealed record ConfigValues
{
    /// <summary>The file read.</summary>
    public required string Path { get; init; }
    /// <summary><c>NO</c>, <c>MULTI_CPU</c> or <c>MULTI_GPU</c>.</summary>
    public string? DistributedType { get; init; }
    /// <summary><c>no</c>, <c>fp16</c> or <c>bf16</c>.</summary>
    public string? MixedPrecision { get; init; }
    /// <summary><c>use_cpu</c>.</summary>
    public bool? UseCpu { get; init; }
    /// <summary><c>debug</c>.</summary>
    public bool? Debug { get; init; }
    /// <summary><c>num_processes</c> (total).</summary>
    public int? NumProcesses { get; init; }
    /// <summary><c>machine_rank</c>.</summary>
    public int? MachineRank { get; init; }
    /// <summary><c>num_machines</c>.</summary>
    public int? NumMachines { get; init; }
    /// <summary><c>gpu_ids</c>.</summary>
    public string? GpuIds { get; init; }
    /// <summary><c>main_process_ip</c>.</summary>
    public string? MainProcessIp { get; init; }
    /// <summary><c>main_process_port</c>.</summary>
    public int? MainProcessPort { get; init; }
    /// <summary><c>static</c> or <c>c10d</c>.</summary>
    public string? RdzvBackend { get; init; }
    /// <summary><c>same_network</c>.</summary>
    public bool? SameNetwork { get; init; }
    /// <summary><c>main_training_function</c>.</summary>
    public string? MainTrainingFunction { get; init; }
    /// <summary><c>mpirun_config.mpirun_hostfile</c>.</summary>
    public string? MpirunHostfile { get; init; }

    /// <summary>Takes the launch-relevant settings of <paramref name="config"/>, read from <paramref name="path"/>.</summary>
    public static ConfigValues From(ClusterConfig config, string path) => new()
    {
        Path = path,
        DistributedType = config.DistributedType.ToWire(),
        MixedPrecision = config.MixedPrecision?.ToWire(),
        UseCpu = config.UseCpu,
        Debug = config.Debug,
        NumProcesses = config.NumProcesses,
        MachineRank = config.MachineRank,
        NumMachines = config.NumMachines,
        GpuIds = config.GpuIds,
        MainProcessIp = config.MainProcessIp,
        MainProcessPort = config.MainProcessPort,
        RdzvBackend = config.RdzvBackend?.ToWire(),
        SameNetwork = config.SameNetwork,
        MainTrainingFunction = config.MainTrainingFunction,
        MpirunHostfile = config.MpirunHostfile,
    };
}
