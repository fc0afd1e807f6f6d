namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>compute_environment</c>. Only <c>LOCAL_MACHINE</c> is supported.</summary>
public enum ComputeEnvironment
{
    /// <summary><c>LOCAL_MACHINE</c>: this machine (or machines reached over the network).</summary>
    LocalMachine,
}
