namespace Accelerate.Configuration;

/// <summary>How training is spread out: HF accelerate's <c>distributed_type</c>, limited to what runs on TorchSharp.</summary>
public sealed class DistributedType : ConfigChoice, IConfigChoice<DistributedType>
{
    /// <summary><c>NO</c>: one process.</summary>
    public static readonly DistributedType No = new("NO");
    /// <summary><c>MULTI_CPU</c>: several processes on CPUs.</summary>
    public static readonly DistributedType MultiCpu = new("MULTI_CPU");
    /// <summary><c>MULTI_GPU</c>: one process per GPU.</summary>
    public static readonly DistributedType MultiGpu = new("MULTI_GPU");

    private DistributedType(string name) : base(name) { }

    /// <inheritdoc/>
    public static IReadOnlyList<DistributedType> All { get; } = [No, MultiCpu, MultiGpu];

    /// <inheritdoc/>
    public static IReadOnlyList<string> Unsupported { get; } =
    [
        "MULTI_NPU", "MULTI_MLU", "MULTI_SDAA", "MULTI_MUSA", "MULTI_XPU", "MULTI_HPU", "MULTI_NEURON",
        "DEEPSPEED", "FSDP", "XLA", "TPU", "MEGATRON_LM",
    ];
}
