namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class SmallAllReduceTests
{
    [TestMethod]
    [DataRow("shm")]
    [DataRow("tcp")]
    public void A_small_all_reduce_of_a_tensor_or_a_span_allocates_nothing(string backend)
    {
        // A training loop all-reduces small values every step: garbage per call would mean collections on its thread.
        using var job = RankProcesses.StartJob(2, "allocations", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend);

        job.WaitForAll(RankProcesses.Patience);

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, $"backend {backend}", job.Describe());
            StringAssert.Contains(rank.Output, "ALLOCATED tensor 0\n", job.Describe());
            StringAssert.Contains(rank.Output, "ALLOCATED span 0\n", job.Describe());
        }
    }
}
