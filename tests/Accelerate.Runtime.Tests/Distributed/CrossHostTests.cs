using System.Diagnostics;
using System.Text.Json.Nodes;
using Accelerate.Runtime.Tests.Training;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>Two "hosts": Linux network namespaces joined by a veth pair, created and removed by each test.</summary>
[TestClass]
public sealed class CrossHostTests
{
    [TestMethod]
    public void Two_ranks_on_each_of_two_hosts_reduce_hierarchically_and_match_the_reference()
    {
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"]);

        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            CheckScenario.AssertEveryCasePassed(rank.Output, "shm+tcp", 1, job.Describe());
        }
    }

    [TestMethod]
    public void Hosts_with_different_numbers_of_ranks_fall_back_to_tcp_and_match_the_reference()
    {
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "b", "a"]);

        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            CheckScenario.AssertEveryCasePassed(rank.Output, "tcp", 1, job.Describe());
        }
    }

    [TestMethod]
    public void Two_pytorchjob_pods_each_running_accelerate_launch_with_only_the_pet_variables_train_like_one_process()
    {
        using var hosts = NamespacePair.Create();
        var folder = Directory.CreateTempSubdirectory("accelerate-pytorchjob-");
        try
        {
            var output = Path.Combine(folder.FullName, "result.{rank}.json");
            var port = RankProcesses.FreePort();
            using var pods = new RankProcesses();
            // What Kubeflow's training operator sets in each pod; the pod's command has no launch option at all.
            foreach (var (host, podRank) in new[] { (hosts.A, 0), (hosts.B, 1) })
                pods.Start(new Dictionary<string, string?>
                {
                    ["PET_NNODES"] = "2", ["PET_NPROC_PER_NODE"] = "1", ["PET_NODE_RANK"] = podRank.ToString(),
                    ["PET_MASTER_ADDR"] = NamespacePair.AddressA, ["PET_MASTER_PORT"] = port.ToString(), ["OMP_NUM_THREADS"] = "1",
                },
                ["ip", "netns", "exec", host, "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch",
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
    public void A_host_joining_a_running_elastic_job_makes_it_checkpoint_and_resume_on_both_hosts_like_a_resume_of_two_processes()
    {
        using var hosts = NamespacePair.Create();
        var project = Directory.CreateTempSubdirectory("accelerate-elastic-grow-");
        try
        {
            var output = Path.Combine(project.FullName, "result.{rank}.json");
            // 7 steps an epoch at world 1 (batch 16 over 112 samples); rank 0 stands still after step 6 until a SIGTERM
            // asks it to save (the worker's pause_at), so the job is surely running when the second host arrives.
            string[] training = ["batch=16", "steps=18", "size=112", "optimizer=adam", "resume_from=latest", "project=" + project.FullName];
            string[] command =
            [
                "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--cpu", "--rdzv_backend", "c10d", "--rdzv_endpoint", $"{NamespacePair.AddressA}:{RankProcesses.FreePort()}",
                "--rdzv_id", "elastic", "--nnodes", "1:2", "--nproc_per_node", "1", "--rdzv_last_call_timeout", "1",
                TrainingJob.WorkerPath, .. training, "pause_at=6", "pause_rank=0", "out=" + output,
            ];
            var environment = new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" };
            using var launchers = new RankProcesses();
            var first = launchers.Start(environment, ["ip", "netns", "exec", hosts.A, .. command]);
            first.WaitForLine("paused for a signal", TimeSpan.FromSeconds(150));
            var second = launchers.Start(environment, ["ip", "netns", "exec", hosts.B, .. command]);

            launchers.WaitForAll(TimeSpan.FromMinutes(4));
            Assert.AreEqual(0, first.Process.ExitCode, launchers.Describe());
            Assert.AreEqual(0, second.Process.ExitCode, launchers.Describe());
            StringAssert.Contains(first.Output, "1 machine(s) waiting to join", launchers.Describe());
            StringAssert.Contains(first.Output, "ACC2276", "the running rank saved a checkpoint when the second host came");
            StringAssert.Contains(first.Output, "after step 7");
            var checkpoint = Path.Combine(project.FullName, "checkpoints", "checkpoint_0");
            StringAssert.Contains(first.Output, "resumed from " + checkpoint);

            // The reference: two processes started from that checkpoint without any launcher.
            var reference = Directory.CreateTempSubdirectory("accelerate-elastic-reference-");
            try
            {
                CopyFolder(checkpoint, Path.Combine(reference.FullName, "checkpoints", "checkpoint_0"));
                var expected = TrainingJob.Run(2, [.. training[..^1], "project=" + reference.FullName]);
                for (var rank = 0; rank < 2; rank++)
                {
                    var result = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                    Assert.AreEqual(2, result["world"]!.GetValue<int>(), "the second round runs on both hosts");
                    Assert.AreEqual(18, result["optimizer_steps"]!.GetValue<int>(), "the step counter went on from the checkpoint");
                    Assert.HasCount(11, Losses(result), $"rank {rank} ran the 11 steps after step 7");
                    AssertClose(Parameters(expected[rank]), Parameters(result), 0, $"rank {rank} after the second host joined");
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
        using var hosts = NamespacePair.Create();
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        using var job = new RankProcesses();
        // A world of 3 where rank 2 never comes: ranks 0 and 1 wait at the store.
        foreach (var (rank, host) in new[] { (0, hosts.A), (1, hosts.B) })
        {
            var environment = RankProcesses.Contract(rank, 3, port, secret, masterAddress: NamespacePair.AddressA);
            environment["LOCAL_RANK"] = null;
            environment["LOCAL_WORLD_SIZE"] = null;
            environment["ACCELERATE_RDZV_TIMEOUT"] = "10";
            job.Start(environment, ["ip", "netns", "exec", host, "dotnet", RankProcesses.WorkerPath, "join"]);
        }
        var (machine0, waiting) = (job.Ranks[0], job.Ranks[1]);
        // Past the challenge (36 + 32 bytes) and the answer to publishing its address: rank 1 now waits for rank 2.
        hosts.WaitForConnection(hosts.B, NamespacePair.AddressA, port, 100, job);

        if (how == "cut") hosts.Cut();
        else Signal(machine0.Process.Id, "STOP");
        try
        {
            Assert.IsTrue(waiting.WaitForExit(TimeSpan.FromSeconds(60)), $"rank 1 still waits for a store that is gone.\n{job.Describe()}");
            StringAssert.Contains(waiting.Output, "ACC2160", job.Describe());
            StringAssert.Contains(waiting.Output, $"{NamespacePair.AddressA}:{port}", job.Describe());
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
        using var hosts = NamespacePair.Create();
        // "stall" with no stalled rank: both ranks all-reduce in a loop until something fails.
        using var job = StartAcross(hosts, ["a", "b"], "stall 99", e => e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "5");
        foreach (var rank in job.Ranks) rank.WaitForLine("joined rank", RankProcesses.Patience);

        hosts.Cut();

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
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"], "mismatch-matrix half", e => e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "30");

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks) StringAssert.Contains(rank.Output, "backend shm+tcp", job.Describe());
        CollectiveMismatchTests.AssertEveryCaseFailedWithAcc2110(job.Ranks.Select(r => r.Output), 4, job.Describe);
    }

    private static RankProcesses StartAcross(NamespacePair hosts, string[] placement, string scenario = "check", Action<Dictionary<string, string?>>? adjust = null)
    {
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        var job = new RankProcesses();
        for (var rank = 0; rank < placement.Length; rank++)
        {
            var environment = RankProcesses.Contract(rank, placement.Length, port, secret, masterAddress: NamespacePair.AddressA);
            environment["LOCAL_RANK"] = null;
            environment["LOCAL_WORLD_SIZE"] = null;
            var name = placement[rank] == "a" ? hosts.A : hosts.B;
            adjust?.Invoke(environment);
            job.Start(environment, ["ip", "netns", "exec", name, "dotnet", RankProcesses.WorkerPath, .. scenario.Split(' ')]);
        }
        return job;
    }

    private sealed class NamespacePair : IDisposable
    {
        public const string AddressA = "10.231.0.1";
        private const string AddressB = "10.231.0.2";

        private NamespacePair(string a, string b)
        {
            A = a;
            B = b;
        }

        public string A { get; }

        public string B { get; }

        private string Veth { get; set; } = "";

        /// <summary>Takes host A's end of the link down: packets between the hosts are dropped, no connection is reset.</summary>
        public void Cut() => Ip($"-n {A} link set {Veth}a down");

        /// <summary>
        /// Waits until a process in <paramref name="host"/> holds a connection to <paramref name="address"/>:<paramref name="port"/>
        /// that has received more than <paramref name="bytes"/> bytes (a rank past its handshake with the store has).
        /// </summary>
        public void WaitForConnection(string host, string address, int port, int bytes, RankProcesses job)
        {
            var deadline = DateTime.UtcNow + RankProcesses.Patience;
            while (DateTime.UtcNow < deadline)
            {
                var start = new ProcessStartInfo("ip", ["netns", "exec", host, "ss", "-Htni", "state", "established", "dst", $"{address}:{port}"]) { RedirectStandardOutput = true };
                using var ss = Process.Start(start)!;
                var established = ss.StandardOutput.ReadToEnd();
                ss.WaitForExit();
                var received = System.Text.RegularExpressions.Regex.Match(established, @"bytes_received:(\d+)");
                if (received.Success && long.Parse(received.Groups[1].Value) > bytes) return;
                Thread.Sleep(100); // polling interval of a deadline-bounded wait
            }
            Assert.Fail($"No connection from {host} to {address}:{port} past {bytes} bytes within {RankProcesses.Patience.TotalSeconds} s.\n{job.Describe()}");
        }

        public static NamespacePair Create()
        {
            var suffix = $"{Environment.ProcessId % 100000}-{Random.Shared.Next(1000)}";
            var pair = new NamespacePair($"acc-a-{suffix}", $"acc-b-{suffix}");
            try
            {
                Ip($"netns add {pair.A}");
            }
            catch (InvalidOperationException e)
            {
                Assert.Inconclusive($"Network namespaces cannot be created here (needs root and iproute2): {e.Message}");
            }
            try
            {
                Ip($"netns add {pair.B}");
                var veth = $"v{suffix.Replace("-", "")}";
                pair.Veth = veth;
                Ip($"link add {veth}a netns {pair.A} type veth peer name {veth}b netns {pair.B}");
                Ip($"-n {pair.A} addr add {AddressA}/24 dev {veth}a");
                Ip($"-n {pair.B} addr add {AddressB}/24 dev {veth}b");
                foreach (var (ns, dev) in new[] { (pair.A, veth + "a"), (pair.B, veth + "b"), (pair.A, "lo"), (pair.B, "lo") })
                    Ip($"-n {ns} link set {dev} up");
            }
            catch
            {
                pair.Dispose();
                throw;
            }
            return pair;
        }

        private static void Ip(string arguments)
        {
            using var process = Process.Start(new ProcessStartInfo("ip", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })
                ?? throw new InvalidOperationException("ip could not start");
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"ip {arguments}: {error.Trim()}");
        }

        public void Dispose()
        {
            foreach (var name in new[] { A, B })
            {
                try
                {
                    Ip($"netns del {name}");
                }
                catch (InvalidOperationException)
                {
                    // Never created.
                }
            }
        }
    }
}
