namespace Accelerate.Tests.Distributed;

[TestClass]
public sealed class CollectivesTests
{
    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    public void Every_collective_dtype_and_reduction_matches_a_serial_reference(int worldSize)
    {
        using var job = RankProcesses.StartJob(worldSize, "check", (_, environment) => environment["ACCELERATE_DISTRIBUTED_BACKEND"] = "tcp");

        job.WaitForAll();

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "PASS");
        }
    }
}
