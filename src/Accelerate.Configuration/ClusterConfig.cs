namespace Accelerate.Configuration;

/// <summary>
/// HF accelerate's <c>ClusterConfig</c>: the <c>default_config.yaml</c> of <c>compute_environment: LOCAL_MACHINE</c>.
/// A null property means the file does not set it, so a launcher can apply CLI &gt; file &gt; default
/// (<c>cli ?? file ?? default</c>) and say where each value came from. <see cref="WithDefaults"/> fills in
/// HF's defaults. Read and write it with <see cref="ConfigFile"/>.
/// </summary>
public sealed record ClusterConfig
{
    /// <summary><c>compute_environment</c>; only <c>LOCAL_MACHINE</c> is supported (HF's default when absent).</summary>
    public ComputeEnvironment? ComputeEnvironment { get; init; }

    /// <summary><c>distributed_type</c>: <c>NO</c>, <c>MULTI_CPU</c> or <c>MULTI_GPU</c>. Every file must set it.</summary>
    public DistributedType DistributedType { get; init; }

    /// <summary><c>mixed_precision</c>: <c>no</c>, <c>fp16</c> or <c>bf16</c> (a legacy <c>fp16: true</c> reads as <c>fp16</c>).</summary>
    public MixedPrecision? MixedPrecision { get; init; }

    /// <summary><c>use_cpu</c>: run on CPU even where GPUs exist (HF default false).</summary>
    public bool? UseCpu { get; init; }

    /// <summary><c>debug</c>: check collectives across ranks; sets <c>ACCELERATE_DEBUG_MODE</c> (HF default false).</summary>
    public bool? Debug { get; init; }

    /// <summary><c>num_processes</c>: total processes across all machines. HF's "not set" value -1 reads as null.</summary>
    public int? NumProcesses { get; init; }

    /// <summary><c>machine_rank</c>: this machine's index (HF default 0).</summary>
    public int? MachineRank { get; init; }

    /// <summary><c>num_machines</c>: number of machines (HF default 1).</summary>
    public int? NumMachines { get; init; }

    /// <summary><c>gpu_ids</c>: <c>all</c> or a comma-separated list of GPU ids; becomes <c>CUDA_VISIBLE_DEVICES</c>.</summary>
    public string? GpuIds { get; init; }

    /// <summary><c>main_process_ip</c>: address of the machine that runs rank 0.</summary>
    public string? MainProcessIp { get; init; }

    /// <summary><c>main_process_port</c>: port of rank 0's rendezvous store; 0 picks a free port, null means 29500.</summary>
    public int? MainProcessPort { get; init; }

    /// <summary><c>rdzv_backend</c>: <c>static</c> (HF default) or <c>c10d</c>.</summary>
    public RendezvousBackend? RdzvBackend { get; init; }

    /// <summary><c>same_network</c>: whether all machines share one local network (HF default false).</summary>
    public bool? SameNetwork { get; init; }

    /// <summary><c>main_training_function</c>: name of the <c>[TrainingFunction]</c> to run (HF default <c>main</c>).</summary>
    public string? MainTrainingFunction { get; init; }

    /// <summary><c>enable_cpu_affinity</c>: pin each process to CPU cores (HF default false).</summary>
    public bool? EnableCpuAffinity { get; init; }

    /// <summary><c>downcast_bf16</c>: a TPU setting, kept as written (HF writes <c>'no'</c>) and otherwise ignored.</summary>
    public string? DowncastBf16 { get; init; }

    /// <summary>
    /// The nested <c>*_config</c> mappings (<c>deepspeed_config</c>, <c>fsdp_config</c>, <c>mpirun_config</c>, …) keyed by
    /// their file name, kept as read: values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/>,
    /// <see cref="double"/>, null, <c>IReadOnlyDictionary&lt;string, object?&gt;</c> or <c>IReadOnlyList&lt;object?&gt;</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object?> NestedConfigs { get; init; } = new Dictionary<string, object?>();

    /// <summary>
    /// HF settings this product keeps but does not use (<c>tpu_name</c>, <c>tpu_env</c>, <c>commands</c>, …), keyed by
    /// their file name, with values as in <see cref="NestedConfigs"/>.
    /// </summary>
    public IReadOnlyDictionary<string, object?> OtherSettings { get; init; } = new Dictionary<string, object?>();

    /// <summary><c>mpirun_config.mpirun_hostfile</c>: the hostfile to wrap a MULTI_CPU launch in <c>mpirun</c>, if set.</summary>
    public string? MpirunHostfile =>
        NestedConfigs.TryGetValue("mpirun_config", out var mpirun) && mpirun is IReadOnlyDictionary<string, object?> settings
        && settings.TryGetValue("mpirun_hostfile", out var hostfile) ? hostfile?.ToString() : null;

    /// <summary>Two configs are equal when they write the same file (nested settings compared by value).</summary>
    public bool Equals(ClusterConfig? other) =>
        other is not null && ConfigFile.Serialize(this, ConfigFormat.Json) == ConfigFile.Serialize(other, ConfigFormat.Json);

    /// <inheritdoc/>
    public override int GetHashCode() => ConfigFile.Serialize(this, ConfigFormat.Json).GetHashCode(StringComparison.Ordinal);

    /// <summary>
    /// This config with every unset field given HF accelerate's default, as <c>accelerate config update</c> writes it:
    /// LOCAL_MACHINE, mixed precision <c>no</c>, use_cpu/debug/same_network/enable_cpu_affinity false, machine 0 of 1,
    /// rdzv_backend static, main_training_function <c>main</c>, downcast_bf16 <c>no</c>, and one process when
    /// distributed_type is NO. Values already set are kept.
    /// </summary>
    public ClusterConfig WithDefaults() => this with
    {
        ComputeEnvironment = ComputeEnvironment ?? Configuration.ComputeEnvironment.LocalMachine,
        MixedPrecision = MixedPrecision ?? Configuration.MixedPrecision.No,
        UseCpu = UseCpu ?? false,
        Debug = Debug ?? false,
        NumProcesses = NumProcesses ?? (DistributedType == DistributedType.No ? 1 : null),
        MachineRank = MachineRank ?? 0,
        NumMachines = NumMachines ?? 1,
        RdzvBackend = RdzvBackend ?? Configuration.RendezvousBackend.Static,
        SameNetwork = SameNetwork ?? false,
        MainTrainingFunction = MainTrainingFunction ?? "main",
        EnableCpuAffinity = EnableCpuAffinity ?? false,
        DowncastBf16 = DowncastBf16 ?? "no",
    };
}
