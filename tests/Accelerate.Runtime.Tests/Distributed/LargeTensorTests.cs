namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>Tensors of 2 GiB and more (past what one span can address) go through the collectives whole.</summary>
[TestClass]
[DoNotParallelize] // each rank holds over 2 GiB: one such job at a time
public sealed class LargeTensorTests
{
    /// <summary>Just over 2 GiB: float32 elements 2^29 + 1024. Each rank holds one such tensor (the machine's other users need the rest).</summary>
    private const long Bytes = (1L << 31) + 4096;

    [TestMethod]
    [DataRow("shm")]
    [DataRow("tcp")]
    public void A_tensor_just_over_2_GiB_is_all_reduced_and_broadcast_whole(string backend)
    {
        using var job = RankProcesses.StartJob(2, $"large {Bytes}", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend);

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, $"backend {backend}", job.Describe());
            StringAssert.Contains(rank.Output, $"PASS {Bytes / 4} elements", job.Describe());
        }
    }
}
