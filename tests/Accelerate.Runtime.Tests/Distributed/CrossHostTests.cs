using System.Diagnostics;
using System.Text.Json.Nodes;
using Accelerate.Runtime.Tests.Training;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>Two "hosts" (or three): Linux network namespaces on one bridge (<see cref="NetworkNamespaces"/>), created and removed by each test.</summary>
[TestClass]
public sealed class CrossHostTests
{
    [TestMethod]
    public void Two_ranks_on_each_of_two_hosts_reduce_hierarchically_and_match_the_reference()
    {
        using var hosts = CreateHosts();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"]);

        AssertEveryRankMatchedTheReference(job, "shm+tcp");
    }

    [TestMethod]
    public void Hosts_with_different_numbers_of_ranks_fall_back_to_tcp_and_match_the_reference()
    {
        using var hosts = CreateHosts();
        using var job = StartAcross(hosts, ["a", "b", "a"]);

        AssertEveryRankMatchedTheReference(job, "tcp");
    }

    [TestMethod]
    public void Two_pytorchjob_pods_each_running_accelerate_launch_with_only_the_pet_variables_train_like_one_process()
    {
        using var hosts = CreateHosts();
        var folder = Directory.CreateTempSubdirectory("accelerate-pytorchjob-");
        try
        {
            var output = Path.Combine(folder.FullName, "result.{rank}.json");
            var port = RankProcesses.FreePort();
            using var pods = new RankProcesses();
            // What Kubeflow's training operator sets in each pod; the pod's command has no launch option at all.
            foreach (var podRank in new[] { 0, 1 })
                pods.Start(new Dictionary<string, string?>
                {
                    ["PET_NNODES"] = "2", ["PET_NPROC_PER_NODE"] = "1", ["PET_NODE_RANK"] = podRank.ToString(),
                    ["PET_MASTER_ADDR"] = hosts.Addresses[0], ["PET_MASTER_PORT"] = port.ToString(), ["OMP_NUM_THREADS"] = "1",
                },
                [.. hosts.Exec(podRank), "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch",
                 TrainingJob.WorkerPath, "model=mlp", "optimizer=adam", "batch=16", "steps=10", "size=160", "out=" + output]);

            pods.WaitForAll(TimeSpan.FromMinutes(3));

            foreach (var pod in pods.Ranks) Assert.AreEqual(0, pod.Process.ExitCode, pods.Describe());
            var reference = InProcess("model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160");
            for (var rank = 0; rank < 2; rank++)
            {
                var result = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.AreEqual(2, result["world"]!.GetValue<int>(), "one rank in each of the two pods");
                AssertClose(Parameters(reference), Parameters(result), 1e-5, $"rank {rank} of the PyTorchJob");
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void A_host_joining_a_running_elastic_job_makes_it_checkpoint_and_resume_on_both_hosts_like_a_resume_of_two_processes() =>
        AssertAHostJoiningARunningElasticJobMakesItCheckpointAndResume(hostsAtFirst: 1);

    /// <summary>
    /// Machine 0 tells machine 1 that a machine joins (GROW): the ranks there save their part of the checkpoint as on
    /// pre-emption instead of being stopped as after a failure, so the collective save succeeds.
    /// </summary>
    [TestMethod]
    public void A_third_host_joining_a_job_running_on_two_makes_the_ranks_of_both_checkpoint_and_resume_on_three_like_a_resume_of_three_processes() =>
        AssertAHostJoiningARunningElasticJobMakesItCheckpointAndResume(hostsAtFirst: 2);

    /// <summary>
    /// A c10d job of one rank per host runs on <paramref name="hostsAtFirst"/> hosts when one more arrives: every rank
    /// saves a checkpoint, and the second round on every host trains from it exactly like plain processes resumed from a
    /// copy of it.
    /// </summary>
    private static void AssertAHostJoiningARunningElasticJobMakesItCheckpointAndResume(int hostsAtFirst)
    {
        var world = hostsAtFirst + 1;
        using var hosts = CreateHosts(world);
        var project = Directory.CreateTempSubdirectory("accelerate-elastic-grow-");
        try
        {
            var output = Path.Combine(project.FullName, "result.{rank}.json");
            // Batches of 16 over 112 samples (7 steps an epoch at world 1); rank 0 stands still after step 6 until a SIGTERM
            // asks it to save (the worker's pause_at), so the job is surely running when the last host arrives.
            string[] training = ["batch=16", "steps=18", "size=112", "optimizer=adam", "resume_from=latest", "project=" + project.FullName];
            string[] command =
            [
                "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--cpu", "--rdzv_backend", "c10d", "--rdzv_endpoint", $"{hosts.Addresses[0]}:{RankProcesses.FreePort()}",
                "--rdzv_id", "elastic", "--nnodes", $"{hostsAtFirst}:{world}", "--nproc_per_node", "1", "--rdzv_last_call_timeout", "1",
                TrainingJob.WorkerPath, .. training, "pause_at=6", "pause_rank=0", "out=" + output,
            ];
            var environment = new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1", ["ACCELERATE_COLLECTIVE_TIMEOUT"] = "60" };
            using var launchers = new RankProcesses();
            var running = Enumerable.Range(0, hostsAtFirst).Select(host => launchers.Start(environment, [.. hosts.Exec(host), .. command])).ToList();
            var first = running[0];
            first.WaitForLine("paused for a signal", TimeSpan.FromSeconds(150));
            var last = launchers.Start(environment, [.. hosts.Exec(hostsAtFirst), .. command]);

            launchers.WaitForAll(TimeSpan.FromMinutes(4));
            foreach (var launcher in running.Append(last)) Assert.AreEqual(0, launcher.Process.ExitCode, launchers.Describe());
            StringAssert.Contains(first.Output, "1 machine(s) waiting to join", launchers.Describe());
            StringAssert.Contains(first.Output, "ACC2276", "the running ranks saved a checkpoint when the last host came");
            StringAssert.Contains(first.Output, "after step 7");
            var checkpoint = Path.Combine(project.FullName, "checkpoints", "checkpoint_0");
            for (var rank = 0; rank < hostsAtFirst; rank++)
                Assert.IsTrue(File.Exists(Path.Combine(checkpoint, $"random_states_{rank}.bin")), $"rank {rank} of the first round saved its part.\n{launchers.Describe()}");
            StringAssert.Contains(first.Output, "resumed from " + checkpoint);

            // The reference: as many processes started from that checkpoint without any launcher.
            var reference = Directory.CreateTempSubdirectory("accelerate-elastic-reference-");
            try
            {
                CopyFolder(checkpoint, Path.Combine(reference.FullName, "checkpoints", "checkpoint_0"));
                var expected = TrainingJob.Run(world, [.. training[..^1], "project=" + reference.FullName]);
                for (var rank = 0; rank < world; rank++)
                {
                    var result = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                    Assert.AreEqual(world, result["world"]!.GetValue<int>(), "the second round runs on every host");
                    Assert.AreEqual(18, result["optimizer_steps"]!.GetValue<int>(), "the step counter went on from the checkpoint");
                    Assert.HasCount(11, Losses(result), $"rank {rank} ran the 11 steps after step 7");
                    AssertClose(Parameters(expected[rank]), Parameters(result), 0, $"rank {rank} after the last host joined");
                }
            }
            finally
            {
                reference.Delete(recursive: true);
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.GetDirectories(from)) CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
    }

    [TestMethod]
    [DataRow("cut")]
    [DataRow("freeze")]
    public void A_rank_waiting_at_the_store_when_machine_0_vanishes_fails_naming_it_within_the_timeout(string how)
    {
        using var hosts = CreateHosts();
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        using var job = new RankProcesses();
        // A world of 3 where rank 2 never comes: ranks 0 and 1 wait at the store.
        foreach (var rank in new[] { 0, 1 })
        {
            var environment = RankProcesses.Contract(rank, 3, port, secret, masterAddress: hosts.Addresses[0]);
            environment["LOCAL_RANK"] = null;
            environment["LOCAL_WORLD_SIZE"] = null;
            environment["ACCELERATE_RDZV_TIMEOUT"] = "10";
            job.Start(environment, [.. hosts.Exec(rank), "dotnet", RankProcesses.WorkerPath, "join"]);
        }
        var (machine0, waiting) = (job.Ranks[0], job.Ranks[1]);
        // Past the challenge (36 + 32 bytes) and the answer to publishing its address: rank 1 now waits for rank 2.
        Assert.IsTrue(hosts.WaitForConnection(1, hosts.Addresses[0], port, 100, RankProcesses.Patience),
            $"No connection from {hosts.Names[1]} to {hosts.Addresses[0]}:{port} past 100 bytes within {RankProcesses.Patience.TotalSeconds} s.\n{job.Describe()}");

        if (how == "cut") hosts.Cut(0);
        else Signal(machine0.Process.Id, "STOP");
        try
        {
            Assert.IsTrue(waiting.WaitForExit(TimeSpan.FromSeconds(60)), $"rank 1 still waits for a store that is gone.\n{job.Describe()}");
            StringAssert.Contains(waiting.Output, "ACC2160", job.Describe());
            StringAssert.Contains(waiting.Output, $"{hosts.Addresses[0]}:{port}", job.Describe());
        }
        finally
        {
            if (how == "freeze") Signal(machine0.Process.Id, "CONT");
        }
        Assert.IsTrue(machine0.WaitForExit(TimeSpan.FromSeconds(60)), job.Describe());
        StringAssert.Contains(machine0.Output, "ACC2103", job.Describe());
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString()]);
        kill.WaitForExit();
    }

    [TestMethod]
    public void Ranks_whose_link_is_cut_during_collectives_fail_naming_the_peer_within_the_collective_timeout()
    {
        using var hosts = CreateHosts();
        // "stall" with no stalled rank: both ranks all-reduce in a loop until something fails.
        using var job = StartAcross(hosts, ["a", "b"], "stall 99", e => e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "5");
        foreach (var rank in job.Ranks) rank.WaitForLine("joined rank", RankProcesses.Patience);

        hosts.Cut(0);

        job.WaitForAll(TimeSpan.FromSeconds(60));
        foreach (var (rank, other) in new[] { (0, 1), (1, 0) })
        {
            Assert.AreEqual(3, job.Ranks[rank].Process.ExitCode, job.Describe());
            StringAssert.Contains(job.Ranks[rank].Output, "ACC2112", job.Describe());
            StringAssert.Contains(job.Ranks[rank].Output, $"rank {other} (", job.Describe());
        }
    }

    [TestMethod]
    public void Every_collective_called_with_a_different_size_dtype_or_operation_on_the_other_host_fails_on_every_rank()
    {
        using var hosts = CreateHosts();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"], "mismatch-matrix half", e => e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "30");

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks) StringAssert.Contains(rank.Output, "backend shm+tcp", job.Describe());
        CollectiveMismatchTests.AssertEveryCaseFailedWithAcc2110(job.Ranks.Select(r => r.Output), 4, job.Describe);
    }

    /// <summary>Every rank of <paramref name="job"/> ran every collective of the check scenario over <paramref name="backend"/> and matched the reference.</summary>
    private static void AssertEveryRankMatchedTheReference(RankProcesses job, string backend)
    {
        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            CheckScenario.AssertEveryCasePassed(rank.Output, backend, 1, job.Describe());
        }
    }

    internal static RankProcesses StartAcross(NetworkNamespaces hosts, string[] placement, string scenario = "check", Action<Dictionary<string, string?>>? adjust = null)
    {
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        var job = new RankProcesses();
        for (var rank = 0; rank < placement.Length; rank++)
        {
            var environment = RankProcesses.Contract(rank, placement.Length, port, secret, masterAddress: hosts.Addresses[0]);
            environment["LOCAL_RANK"] = null;
            environment["LOCAL_WORLD_SIZE"] = null;
            adjust?.Invoke(environment);
            job.Start(environment, [.. hosts.Exec(placement[rank] == "a" ? 0 : 1), "dotnet", RankProcesses.WorkerPath, .. scenario.Split(' ')]);
        }
        return job;
    }

    /// <summary><paramref name="count"/> hosts, or an inconclusive test where network namespaces cannot be created.</summary>
    internal static NetworkNamespaces CreateHosts(int count = 2) =>
        NetworkNamespaces.TryCreate(count, out var reason) ?? throw new AssertInconclusiveException(reason);
}
