namespace Accelerate;

/// <summary>
/// How the job is spread out: HF accelerate's <c>DistributedType</c>, limited to what runs on
/// TorchSharp. The members match the configuration library's <c>distributed_type</c> values
/// (<c>NO</c>, <c>MULTI_CPU</c>, <c>MULTI_GPU</c>).
/// </summary>
public enum DistributedType
{
    /// <summary><c>NO</c>: one process.</summary>
    No,
    /// <summary><c>MULTI_CPU</c>: several processes training on CPUs.</summary>
    MultiCpu,
    /// <summary><c>MULTI_GPU</c>: several processes, one per GPU.</summary>
    MultiGpu,
}
