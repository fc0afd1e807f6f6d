namespace Accelerate.Configuration;

/// <summary>
/// HF accelerate's <c>ClusterConfig</c> (the <c>default_config.yaml</c> of <c>compute_environment: LOCAL_MACHINE</c>).
/// A null value means the file does not set it.
/// </summary>
public sealed record ClusterConfig
{
    /// <summary><c>LOCAL_MACHINE</c> (the only one supported) or <c>AMAZON_SAGEMAKER</c>.</summary>
    public string? ComputeEnvironment { get; init; }
    /// <summary><c>NO</c>, <c>MULTI_CPU</c> or <c>MULTI_GPU</c>.</summary>
    public string? DistributedType { get; init; }
    /// <summary><c>no</c>, <c>fp16</c> or <c>bf16</c>.</summary>
    public string? MixedPrecision { get; init; }
    /// <summary>Run on CPU even where GPUs exist.</summary>
    public bool? UseCpu { get; init; }
    /// <summary>Check collectives across ranks (sets <c>ACCELERATE_DEBUG_MODE</c>).</summary>
    public bool? Debug { get; init; }
    /// <summary>Total processes across machines.</summary>
    public int? NumProcesses { get; init; }
    /// <summary>This machine's index.</summary>
    public int? MachineRank { get; init; }
    /// <summary>Number of machines.</summary>
    public int? NumMachines { get; init; }
    /// <summary><c>all</c> or a comma-separated list of GPU ids.</summary>
    public string? GpuIds { get; init; }
    /// <summary>Address of the machine running rank 0.</summary>
    public string? MainProcessIp { get; init; }
    /// <summary>Port of rank 0's rendezvous (0: pick a free one).</summary>
    public int? MainProcessPort { get; init; }
    /// <summary><c>static</c> or <c>c10d</c>.</summary>
    public string? RdzvBackend { get; init; }
    /// <summary>Whether all machines share one network.</summary>
    public bool? SameNetwork { get; init; }
    /// <summary>Name of the <c>[TrainingFunction]</c> to run.</summary>
    public string? MainTrainingFunction { get; init; }
    /// <summary>Pin each process to CPU cores.</summary>
    public bool? EnableCpuAffinity { get; init; }
    /// <summary>TPU setting, kept and ignored.</summary>
    public bool? DowncastBf16 { get; init; }
    /// <summary>Nested <c>*_config</c> dictionaries, kept as read.</summary>
    public IReadOnlyDictionary<string, object?> NestedConfigs { get; init; } = new Dictionary<string, object?>();
}
