using System.Globalization;

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
        var backend = (variables("ACCELERATE_DISTRIBUTED_BACKEND") ?? "auto").Trim().ToLowerInvariant();
        if (backend.Length == 0) backend = "auto";
        if (!Backends.Contains(backend))
            throw new AccelerateException("ACC2124", $"ACCELERATE_DISTRIBUTED_BACKEND='{backend}' is not a backend. Use one of {string.Join(", ", Backends)} (auto picks mpi under mpirun, shared memory plus TCP otherwise).");
        return new CollectiveSettings(
            backend,
            Seconds(variables, "ACCELERATE_RDZV_TIMEOUT"),
            Seconds(variables, "ACCELERATE_COLLECTIVE_TIMEOUT") ?? DefaultCollectiveTimeout,
            IsTrue(variables("ACCELERATE_DEBUG_MODE")));
    }

    private static bool IsTrue(string? text) =>
        text is not null && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1" || text.Equals("yes", StringComparison.OrdinalIgnoreCase));

    private static TimeSpan? Seconds(Func<string, string?> variables, string name)
    {
        var text = variables(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds < int.MaxValue / 1000.0)
            return TimeSpan.FromSeconds(seconds);
        throw new AccelerateException("ACC2124", $"{name}='{text}' is not a positive number of seconds. Set it to e.g. 300, or unset it.");
    }
}
