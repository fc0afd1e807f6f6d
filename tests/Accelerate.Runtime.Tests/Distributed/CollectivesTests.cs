namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class CollectivesTests
{
    [TestMethod]
    [DataRow(2, "tcp")]
    [DataRow(3, "tcp")]
    [DataRow(4, "tcp")]
    [DataRow(2, "shm")]
    [DataRow(3, "shm")]
    [DataRow(4, "shm")]
    public void Every_collective_dtype_and_reduction_matches_a_serial_reference(int worldSize, string backend)
    {
        using var job = RankProcesses.StartJob(worldSize, "check", (_, environment) => environment["ACCELERATE_DISTRIBUTED_BACKEND"] = backend);

        // Blocks of several MB per rank: 4 ranks over TCP take a while on a busy machine.
        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            CheckScenario.AssertEveryCasePassed(rank.Output, backend, 1, job.Describe());
            // On one machine, large blocks are read straight from the peer's tensor (this machine's kernel allows it).
            if (backend == "shm") Assert.IsTrue(CheckScenario.SingleCopyBytes(rank.Output).Single() > 0, job.Describe());
        }
    }

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    public void Every_collective_matches_a_serial_reference_through_the_shared_memory_slots_alone(int worldSize)
    {
        // Where ranks may not read each other's memory, every block goes through the slots, in pieces.
        using var job = RankProcesses.StartJob(worldSize, "check", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm";
            e["ACCELERATE_SHM_SINGLE_COPY"] = "0";
        });

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            CheckScenario.AssertEveryCasePassed(rank.Output, "shm", 1, job.Describe());
            Assert.AreEqual(0, CheckScenario.SingleCopyBytes(rank.Output).Single(), job.Describe());
        }
    }

    [TestMethod]
    public void A_peer_killed_while_the_others_wait_in_shared_memory_is_named()
    {
        using var job = RankProcesses.StartJob(2, "stall 1", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm");
        job.Ranks[1].WaitForLine("STALLING", RankProcesses.Patience);

        job.Ranks[1].Process.Kill(entireProcessTree: true);
        job.Ranks[0].WaitForExit(RankProcesses.Patience);

        Assert.AreEqual(3, job.Ranks[0].Process.ExitCode, job.Describe());
        StringAssert.Contains(job.Ranks[0].Output, "rank 1 (", job.Describe());
        StringAssert.Contains(job.Ranks[0].Output, "ACC2111", job.Describe());
    }

    [TestMethod]
    [DataRow("allgather")]
    [DataRow("gather")]
    [DataRow("reducescatter")]
    [DataRow("broadcast")]
    public void A_peer_killed_while_the_others_wait_in_a_shared_memory_collective_is_named(string collective)
    {
        // 3 ranks, 600,000 floats (2.4 MB, several slot-sized pieces); rank 1 stops and is killed.
        using var job = RankProcesses.StartJob(3, $"stall 1 600000 {collective}", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm");
        job.Ranks[1].WaitForLine("STALLING", RankProcesses.Patience);

        job.Ranks[1].Process.Kill(entireProcessTree: true);

        foreach (var rank in new[] { job.Ranks[0], job.Ranks[2] })
        {
            Assert.IsTrue(rank.WaitForExit(RankProcesses.Patience), job.Describe());
            StringAssert.Contains(rank.Output, "backend shm", job.Describe());
            Assert.AreEqual(3, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "ACC2111", job.Describe());
            StringAssert.Contains(rank.Output, "rank 1 (", job.Describe());
        }
    }

    [TestMethod]
    public void Shared_memory_files_are_gone_once_ranks_have_mapped_them()
    {
        using var job = RankProcesses.StartJob(2, "stall 1", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm");
        job.Ranks[1].WaitForLine("STALLING", RankProcesses.Patience);

        // Positive control: the ranks did meet over shared memory, so there were files to remove.
        StringAssert.Contains(job.Ranks[1].Output, "backend shm", job.Describe());
        job.Ranks[0].WaitForLine("backend shm", RankProcesses.Patience);
        var leftovers = Directory.EnumerateFiles("/dev/shm", "accelerate-*")
            .Where(f => job.Ranks.Any(r => Path.GetFileName(f).StartsWith($"accelerate-{r.Process.Id}-", StringComparison.Ordinal)));

        Assert.IsFalse(leftovers.Any(), string.Join(", ", leftovers));
    }
}
