namespace Accelerate.Distributed;

/// <summary>
/// Where this process stands in a job: its ranks, the world, and where rank 0 serves the
/// rendezvous. Read from the launch contract (docs/launch-contract.md).
/// </summary>
/// <param name="Rank">Global rank, 0 ≤ Rank &lt; WorldSize.</param>
/// <param name="LocalRank">Rank among the processes of this machine.</param>
/// <param name="WorldSize">Number of processes in the job.</param>
/// <param name="LocalWorldSize">Number of processes on this machine.</param>
/// <param name="NodeRank">Index of this machine (<c>GROUP_RANK</c>).</param>
/// <param name="NumNodes">Number of machines (<c>GROUP_WORLD_SIZE</c>).</param>
/// <param name="MasterAddress">Host of rank 0's rendezvous store.</param>
/// <param name="MasterPort">Port of rank 0's rendezvous store.</param>
/// <param name="Secret">The per-launch secret ranks prove knowledge of when they meet; null outside a launch.</param>
/// <param name="Launcher">Who started the process: <c>accelerate</c>, <c>torchrun</c>, <c>mpirun</c>, <c>srun</c>, <c>env</c> or <c>none</c>.</param>
public sealed record DistributedEnvironment(
    int Rank,
    int LocalRank,
    int WorldSize,
    int LocalWorldSize,
    int NodeRank,
    int NumNodes,
    string MasterAddress,
    int MasterPort,
    string? Secret,
    string Launcher)
{
    /// <summary>One process, no launcher: what F5 in an IDE gives.</summary>
    public static DistributedEnvironment SingleProcess { get; } =
        new(0, 0, 1, 1, 0, 1, "127.0.0.1", 29500, null, "none");

    /// <summary>True when more than one process takes part.</summary>
    public bool IsDistributed => WorldSize > 1;
}
