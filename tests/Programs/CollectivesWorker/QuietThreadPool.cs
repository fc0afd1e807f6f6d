using Accelerate.Distributed;
using TorchSharp;

/// <summary>
/// The <c>quiet-pool</c> scenario: 1 MB all-reduces in a loop, then <c>POOL WORK ITEMS n</c>, the thread-pool work
/// items this process ran meanwhile. Collectives drive their sockets on the calling thread; a link that .NET's socket
/// event thread also watches makes every packet a work item, run by a pool thread on the rank's own core.
/// </summary>
internal static class QuietThreadPool
{
    public static int Run(ProcessGroup group)
    {
        using var tensor = torch.ones(256 * 1024);
        group.AllReduce(tensor, ReduceOp.Max);
        var before = ThreadPool.CompletedWorkItemCount;
        for (var i = 0; i < 100; i++) group.AllReduce(tensor, ReduceOp.Max);
        Console.WriteLine($"POOL WORK ITEMS {ThreadPool.CompletedWorkItemCount - before}");
        return 0;
    }
}
