namespace Accelerate.Cli.Env;

/// <summary>What this machine offers for CUDA, found without loading libtorch.</summary>
/// <param name="Available">The driver library loads and at least one GPU is listed.</param>
/// <param name="DriverVersion">The NVIDIA driver version, when known.</param>
/// <param name="Gpus">One line per GPU (name and memory where known).</param>
/// <param name="Reason">Why CUDA is or is not available, in words.</param>
internal sealed record CudaStatus(bool Available, string? DriverVersion, IReadOnlyList<string> Gpus, string Reason);
