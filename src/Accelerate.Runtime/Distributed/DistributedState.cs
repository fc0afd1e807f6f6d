namespace Accelerate.Distributed;

/// <summary>
/// The process-wide distributed state: the environment this process was started in and, once
/// joined, its process group. The generated entry point initializes it; <see cref="Accelerator"/>
/// reads it (initializing it on first use when nothing else did).
/// </summary>
public static class DistributedState
{
    private static readonly object Gate = new();
    private static ProcessGroup? _group;
    private static DistributedEnvironment? _environment;

    /// <summary>The environment read from the launch contract (one process when nothing was launched).</summary>
    public static DistributedEnvironment Environment
    {
        get
        {
            lock (Gate) return _environment ??= LaunchContract.Read();
        }
    }

    /// <summary>The joined process group, or null before <see cref="Initialize"/> or in a single process.</summary>
    public static ProcessGroup? Group
    {
        get
        {
            lock (Gate) return _group;
        }
    }

    /// <summary>
    /// Joins the job's process group when the process was launched as one of several ranks;
    /// does nothing for a single process. Idempotent.
    /// </summary>
    public static ProcessGroup? Initialize(TimeSpan? timeout = null)
    {
        lock (Gate)
        {
            var environment = _environment ??= LaunchContract.Read();
            if (_group is not null || !environment.IsDistributed) return _group;
            _group = ProcessGroupFactory.Create(environment, timeout ?? TimeSpan.FromMinutes(5));
            return _group;
        }
    }

    /// <summary>Leaves the process group, if one was joined.</summary>
    public static void Shutdown()
    {
        lock (Gate)
        {
            _group?.Dispose();
            _group = null;
        }
    }
}
