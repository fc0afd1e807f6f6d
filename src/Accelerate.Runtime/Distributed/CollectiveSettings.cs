namespace Accelerate.Distributed;

/// <summary>
/// The environment variables that tune the process group:
/// <c>ACCELERATE_DISTRIBUTED_BACKEND</c> (auto|tcp|shm|mpi|nccl), <c>ACCELERATE_RDZV_TIMEOUT</c>
/// and <c>ACCELERATE_COLLECTIVE_TIMEOUT</c> (seconds) and <c>ACCELERATE_DEBUG_MODE</c>.
/// </summary>
internal sealed record CollectiveSettings(string Backend, TimeSpan? RendezvousTimeout, TimeSpan CollectiveTimeout, bool DebugMode)
{
    /// <summary>torch's default process-group timeout.</summary>
    public static readonly TimeSpan DefaultCollectiveTimeout = TimeSpan.FromMinutes(30);

    private static readonly string[] Backends = ["auto", "tcp", "shm", "mpi", "nccl"];

    public static CollectiveSettings Read() => Read(Environment.GetEnvironmentVariable);

    public static CollectiveSettings Read(Func<string, string?> variables)
    {
        var backend = (variables(LaunchVariables.DistributedBackend) ?? "auto").Trim().ToLowerInvariant();
        if (backend.Length == 0) backend = "auto";
        if (!Backends.Contains(backend))
            throw new AccelerateException(RuntimeErrorCode.BadCollectiveSetting, $"ACCELERATE_DISTRIBUTED_BACKEND='{backend}' is not a backend. Use one of {string.Join(", ", Backends)} (auto picks mpi under mpirun, shared memory plus TCP otherwise).");
        return new CollectiveSettings(
            backend,
            Seconds(variables, LaunchVariables.RendezvousTimeout),
            Seconds(variables, LaunchVariables.CollectiveTimeout) ?? DefaultCollectiveTimeout,
            LaunchValues.Flag(variables, LaunchVariables.DebugMode));
    }

    private static TimeSpan? Seconds(Func<string, string?> variables, string name) => LaunchValues.Seconds(variables, name, static (name, text) =>
        new AccelerateException(RuntimeErrorCode.BadCollectiveSetting, $"{name}='{text}' is not a positive number of seconds. Set it to e.g. 300, or unset it."));
}
