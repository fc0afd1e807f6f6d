namespace Accelerate.Distributed;

/// <summary>Chooses and connects the process group backend for an environment.</summary>
internal static class ProcessGroupFactory
{
    public static ProcessGroup Create(DistributedEnvironment environment, TimeSpan timeout) =>
        throw new AccelerateException("ACC2003", $"Rank {environment.Rank} of {environment.WorldSize} was launched, but no process group backend is available in this build.");
}
