namespace Accelerate.Configuration;

/// <summary>How training is spread out: HF accelerate's <c>distributed_type</c>, limited to what runs on TorchSharp.</summary>
public enum DistributedType
{
    /// <summary><c>NO</c>: one process.</summary>
    No,
    /// <summary><c>MULTI_CPU</c>: several processes on CPUs.</summary>
    MultiCpu,
    /// <summary><c>MULTI_GPU</c>: one process per GPU.</summary>
    MultiGpu,
}
