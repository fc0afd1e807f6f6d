namespace Accelerate.Configuration.Reading;

/// <summary>The keys of HF accelerate's <c>ClusterConfig</c>, grouped by how this product treats them.</summary>
internal static class ConfigKeys
{
    /// <summary>Keys bound to typed properties of <see cref="ClusterConfig"/>.</summary>
    public static readonly string[] Typed =
    [
        "compute_environment", "distributed_type", "mixed_precision", "use_cpu", "debug", "num_processes",
        "machine_rank", "num_machines", "gpu_ids", "main_process_ip", "main_process_port", "rdzv_backend",
        "same_network", "main_training_function", "enable_cpu_affinity", "downcast_bf16",
    ];

    /// <summary>Nested settings, kept in <see cref="ClusterConfig.NestedConfigs"/>.</summary>
    public static readonly string[] Nested =
    [
        "deepspeed_config", "fsdp_config", "tp_config", "megatron_lm_config", "ipex_config", "mpirun_config",
        "fp8_config", "dynamo_config", "parallelism_config",
    ];

    /// <summary>TPU-pod settings, kept in <see cref="ClusterConfig.OtherSettings"/>.</summary>
    public static readonly string[] Other =
        ["tpu_name", "tpu_zone", "tpu_use_cluster", "tpu_use_sudo", "command_file", "commands", "tpu_vm", "tpu_env"];

    /// <summary>Keys of older HF versions, converted on reading: <c>fp16</c> and <c>dynamo_backend</c>.</summary>
    public static readonly string[] Legacy = ["fp16", "dynamo_backend"];

    public static IEnumerable<string> Current => Typed.Concat(Nested).Concat(Other);
}
