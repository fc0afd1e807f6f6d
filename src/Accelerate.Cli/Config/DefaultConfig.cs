using Accelerate.Configuration;

namespace Accelerate.Cli.Config;

/// <summary>The config <c>accelerate config default</c> writes, as HF's <c>write_basic_config</c>.</summary>
internal static class DefaultConfig
{
    /// <summary>MULTI_GPU over every GPU when there are several; otherwise one process, on CPU when there is no GPU.</summary>
    public static ClusterConfig For(int gpuCount, MixedPrecision precision) => new ClusterConfig
    {
        ComputeEnvironment = ComputeEnvironment.LocalMachine,
        DistributedType = gpuCount > 1 ? DistributedType.MultiGpu : DistributedType.No,
        NumProcesses = Math.Max(gpuCount, 1),
        UseCpu = gpuCount == 0,
        MixedPrecision = precision,
        Debug = false,
        EnableCpuAffinity = false,
    }.WithDefaults();
}
