namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// In debug mode a collective timeout (ACC2112) says which rank is behind and where: every rank
/// publishes the collective it enters to rank 0's store, which still answers while the collective is stuck.
/// The worker's "stall"/"freeze" scenarios all-reduce in a loop; the stalled rank stops before its
/// fourth collective, sleeping (still running) or stopped by SIGSTOP.
/// </summary>
[TestClass]
public sealed class DebugModeTimeoutTests
{
    [TestMethod]
    [DataRow(2, "shm")]
    [DataRow(3, "tcp")]
    public void A_rank_that_skips_a_collective_is_named_with_the_call_site_of_its_last_one(int worldSize, string backend)
    {
        using var job = StartStalled(worldSize, backend, "stall");

        foreach (var survivor in Survivors(job))
        {
            StringAssert.Contains(survivor.Output, "ACC2112", job.Describe());
            StringAssert.Matches(survivor.Output, new(@"Rank 1 \([^)]*\) has not reached collective #4: its last collective was #3 AllReduce\(Sum\) at Program\.cs:\d+ in Scenarios\.Stall, and it is running"), job.Describe());
            StringAssert.Contains(survivor.Output, "Debug mode: rank 1 is behind.", job.Describe());
            Assert.IsFalse(survivor.Output.Contains("Set ACCELERATE_DEBUG_MODE=true"), $"Debug mode is on: the error does not advise turning it on.\n{job.Describe()}");
        }
    }

    [TestMethod]
    [DataRow(2, "tcp")]
    [DataRow(3, "shm")]
    public void A_stopped_rank_is_named_as_having_published_nothing_since_its_last_collective(int worldSize, string backend)
    {
        using var job = StartStalled(worldSize, backend, "freeze");

        foreach (var survivor in Survivors(job))
        {
            StringAssert.Contains(survivor.Output, "ACC2112", job.Describe());
            StringAssert.Matches(survivor.Output, new(@"Rank 1 \([^)]*\) has not reached collective #4 and published nothing since collective #3 AllReduce\(Sum\) at Program\.cs:\d+ in Scenarios\.Stall: it is stopped or frozen"), job.Describe());
        }
        if (worldSize == 3)
            StringAssert.Contains(job.Ranks[0].Output + job.Ranks[2].Output, "is in collective #4 too", job.Describe());
    }

    private static RankProcesses StartStalled(int worldSize, string backend, string scenario) =>
        RankProcesses.StartJob(worldSize, $"{scenario} 1", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend;
            e["ACCELERATE_DEBUG_MODE"] = "true";
            e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "3";
        });

    /// <summary>Every rank but the stalled one, once each has failed (the job's disposal kills the stalled one).</summary>
    private static IEnumerable<RankProcesses.Rank> Survivors(RankProcesses job)
    {
        var survivors = job.Ranks.Where((_, r) => r != 1).ToArray();
        foreach (var survivor in survivors)
        {
            if (!survivor.WaitForExit(RankProcesses.Patience)) Assert.Fail($"A rank did not fail after the collective timeout.\n{job.Describe()}");
            Assert.AreEqual(3, survivor.Process.ExitCode, job.Describe());
        }
        Assert.IsFalse(job.Ranks[1].Process.HasExited, $"The stalled rank stays (stopped or sleeping) until the test ends it.\n{job.Describe()}");
        return survivors;
    }
}
