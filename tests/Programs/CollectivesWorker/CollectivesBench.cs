using System.Diagnostics;
using Accelerate.Distributed;
using TorchSharp;

/// <summary>
/// The <c>bench-ops OP[,OP...] BYTES...</c> scenario: all-gather, gather (to rank 1), reduce-scatter, broadcast
/// (from rank 1) and all-reduce of float32 tensors, timed like <c>bench/collectives/mpi_collectives.c</c> (same sizes,
/// iteration counts and warm-up; see there for what each size means). The gathers write into a buffer allocated once
/// (<c>AllGatherInto</c>, <c>GatherInto</c>); <c>allgather_alloc</c> and <c>gather_alloc</c> time the forms that return
/// new tensors on every call. Prints
/// <c>BENCHROW op bytes mean_us median_us</c> on rank 0.
/// </summary>
internal static class CollectivesBench
{
    public static int Run(ProcessGroup group, string[] collectives, long[] sizes)
    {
        var root = 1 % group.WorldSize;
        foreach (var collective in collectives)
        foreach (var bytes in sizes)
        {
            var count = Math.Max(1, bytes / sizeof(float));
            using var tensor = torch.ones(collective == "reducescatter" ? Math.Max(1, count / group.WorldSize) * group.WorldSize : count);
            // The gathers write into one buffer allocated here, as the MPI peer's receive buffer (every rank allocates it, only the root of a gather uses it).
            using var gathered = collective is "allgather" or "gather" ? torch.empty(group.WorldSize * count) : null;
            Action run = collective switch
            {
                "allgather" => () => group.AllGatherInto(gathered!, tensor),
                "gather" => () => group.GatherInto(group.Rank == root ? gathered : null, tensor, root),
                "allgather_alloc" => () => Dispose(group.AllGather(tensor)),
                "gather_alloc" => () => Dispose(group.Gather(tensor, root)),
                "reducescatter" => () => group.ReduceScatter(tensor).Dispose(),
                "broadcast" => () => group.Broadcast(tensor, root),
                "allreduce" => () => group.AllReduce(tensor),
                _ => throw new ArgumentException($"unknown collective {collective}"),
            };
            var iterations = bytes <= 4096 ? 20_000 : (int)Math.Clamp(2_000_000_000L / bytes / 40, 5, 2000);
            var times = new double[iterations];
            var clock = Stopwatch.StartNew();
            for (var i = -Math.Min(10, iterations); i < iterations; i++)
            {
                if (i == 0) group.Barrier();
                var start = clock.Elapsed.TotalMicroseconds;
                run();
                if (i >= 0) times[i] = clock.Elapsed.TotalMicroseconds - start;
            }
            group.Barrier();
            var mean = times.Average();
            Array.Sort(times);
            if (group.Rank == 0) Console.WriteLine($"BENCHROW {collective} {bytes} {mean:F2} {times[iterations / 2]:F2}");
        }
        return 0;
    }

    private static void Dispose(torch.Tensor[]? tensors)
    {
        foreach (var tensor in tensors ?? []) tensor.Dispose();
    }
}
