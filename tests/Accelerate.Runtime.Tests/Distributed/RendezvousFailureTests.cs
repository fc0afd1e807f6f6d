namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class RendezvousFailureTests
{
    [TestMethod]
    public void Ranks_whose_peers_never_arrive_fail_listing_the_missing_ranks()
    {
        // Ranks 0 and 1 of a world of 4 start; ranks 2 and 3 never do. The timeout leaves room for
        // rank 1 to start late on a loaded machine, so that only ranks 2 and 3 are missing.
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        using var job = new RankProcesses();
        for (var rank = 0; rank < 2; rank++)
        {
            var environment = RankProcesses.Contract(rank, 4, port, secret);
            environment["ACCELERATE_RDZV_TIMEOUT"] = "15";
            job.Start(environment, ["dotnet", RankProcesses.WorkerPath, "join"]);
        }

        job.WaitForAll();

        foreach (var rank in job.Ranks)
        {
            Assert.AreNotEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "ACC2103");
            StringAssert.Contains(rank.Output, "never arrived: rank 2 (machine 0, ");
            StringAssert.Contains(rank.Output, "rank 3 (machine 0, ");
        }
    }

    [TestMethod]
    public void A_rank_with_the_wrong_secret_is_refused_and_named_in_its_error()
    {
        var port = RankProcesses.FreePort();
        using var job = new RankProcesses();
        var good = RankProcesses.Contract(0, 2, port, RankProcesses.NewSecret());
        good["ACCELERATE_RDZV_TIMEOUT"] = "15";
        var intruder = RankProcesses.Contract(1, 2, port, RankProcesses.NewSecret());
        intruder["ACCELERATE_RDZV_TIMEOUT"] = "15";
        var rank0 = job.Start(good, ["dotnet", RankProcesses.WorkerPath, "join"]);
        var rank1 = job.Start(intruder, ["dotnet", RankProcesses.WorkerPath, "join"]);

        job.WaitForAll();

        StringAssert.Contains(rank1.Output, "ACC2104", job.Describe());
        StringAssert.Contains(rank0.Output, "refused a connection from", job.Describe());
        StringAssert.Contains(rank0.Output, "ACC2103", "rank 0 still times out waiting for a real rank 1");
    }

    [TestMethod]
    [DataRow(16L)]
    [DataRow(1_000_000L)]
    public void A_peer_killed_during_a_collective_makes_the_others_fail_naming_it(long elements)
    {
        using var job = RankProcesses.StartJob(3, $"stall 1 {elements}", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "tcp");
        var stalled = job.Ranks[1];
        stalled.WaitForLine("STALLING", RankProcesses.Patience);

        stalled.Process.Kill(entireProcessTree: true);
        job.WaitForAll();

        foreach (var survivor in new[] { job.Ranks[0], job.Ranks[2] })
        {
            Assert.AreEqual(3, survivor.Process.ExitCode, job.Describe());
            StringAssert.Contains(survivor.Output, "rank 1 (", job.Describe());
            StringAssert.Contains(survivor.Output, "AllReduce", job.Describe());
        }
    }

    [TestMethod]
    [DataRow("tcp")]
    [DataRow("shm")]
    public void A_stuck_peer_makes_the_others_fail_after_the_collective_timeout_naming_it(string backend)
    {
        using var job = RankProcesses.StartJob(2, "stall 1", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend;
            e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "2";
        });

        job.Ranks[0].WaitForExit(RankProcesses.Patience);

        Assert.AreEqual(3, job.Ranks[0].Process.ExitCode, job.Describe());
        StringAssert.Contains(job.Ranks[0].Output, "ACC2112", job.Describe());
        StringAssert.Contains(job.Ranks[0].Output, "rank 1 (", job.Describe());
    }

    [TestMethod]
    public void Debug_mode_turns_a_collective_called_on_one_rank_into_an_error_on_every_rank_naming_both_call_sites()
    {
        using var job = RankProcesses.StartJob(3, "mismatch", (_, e) => e["ACCELERATE_DEBUG_MODE"] = "true");

        job.WaitForAll();

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(3, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "ACC2110", job.Describe());
            StringAssert.Contains(rank.Output, "rank 0 called AllReduce(Sum) float32[4, 3] at Program.cs:", job.Describe());
            StringAssert.Contains(rank.Output, "ranks 1, 2 called Barrier at Program.cs:", job.Describe());
        }
    }

    [TestMethod]
    public void Debug_mode_names_the_shapes_when_ranks_all_reduce_tensors_of_different_shapes()
    {
        using var job = RankProcesses.StartJob(2, "mismatch-shape", (_, e) => e["ACCELERATE_DEBUG_MODE"] = "true");

        job.WaitForAll();

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(3, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "rank 0 called AllReduce(Sum) float32[4, 3] at Program.cs:", job.Describe());
            StringAssert.Contains(rank.Output, "rank 1 called AllReduce(Sum) float32[3, 4] at Program.cs:", job.Describe());
        }
    }
}
