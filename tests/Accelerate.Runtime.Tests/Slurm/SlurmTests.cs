using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Accelerate.Configuration.Slurm;
using Accelerate.Runtime.Tests.Distributed;
using Accelerate.Runtime.Tests.Training;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Slurm;

/// <summary>
/// Ranks started by a real SLURM cluster (srun, sbatch) without our launcher, and SLURM's host-list syntax
/// checked against the real <c>scontrol</c>. All tests share one cluster, started once per run.
/// </summary>
[TestClass]
[UnsupportedOSPlatform("windows")]
public sealed partial class SlurmTests
{
    private static readonly string[] TrainingRun = ["model=mlp", "optimizer=adam", "batch=16", "steps=10", "size=160"];
    private static readonly TimeSpan JobPatience = TimeSpan.FromSeconds(150);
    private static SlurmCluster _cluster = null!;
    private string _folder = null!;

    [ClassInitialize]
    public static void StartCluster(TestContext context) => _cluster = SlurmCluster.Shared;

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("accelerate-slurm-job-").FullName;

    [TestCleanup]
    public void RemoveFolder() => Directory.Delete(_folder, recursive: true);

    [TestMethod]
    public void Ranks_started_by_srun_without_the_launcher_reach_the_parameters_of_one_rank_with_the_whole_batch()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");

        var (exitCode, log) = _cluster.Run(JobPatience, ["srun", "--verbose", "-n2", "dotnet", TrainingJob.WorkerPath, .. TrainingRun, "out=" + output]);

        Assert.AreEqual(0, exitCode, log);
        var ranks = Records(output, 2);
        var reference = InProcess(["model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in ranks)
        {
            Assert.AreEqual(2, rank["world"]!.GetValue<int>(), "SLURM_NTASKS is the world size");
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} started by srun");
        }
        CollectionAssert.AreEqual(new[] { 0, 1 }, ranks.Select(r => r["rank"]!.GetValue<int>()).ToArray(), "SLURM_PROCID is the rank");
        // No MASTER_ADDR/MASTER_PORT: rank 0 listens on the node list's first host, at 15000 + the job id's last four digits.
        var jobId = long.Parse(JobIdLine().Match(log).Groups[1].Value);
        StringAssert.Contains(log, $"rendezvous at {_cluster.NodeName}:{15000 + jobId % 10000}");
    }

    [TestMethod]
    public void Four_ranks_started_by_srun_share_a_node_with_fewer_cores_and_reach_the_parameters_of_one_rank()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");

        var (exitCode, log) = _cluster.Run(JobPatience, ["srun", "-n4", "dotnet", TrainingJob.WorkerPath, "model=mlp", "optimizer=sgd", "batch=8", "steps=10", "size=160", "out=" + output]);

        Assert.AreEqual(0, exitCode, log);
        var reference = InProcess(["model=mlp", "optimizer=sgd", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in Records(output, 4))
        {
            Assert.AreEqual(4, rank["world"]!.GetValue<int>());
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} of 4 started by srun");
        }
    }

    [TestMethod]
    public void A_batch_job_whose_script_starts_the_ranks_with_srun_trains()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");
        var script = BatchScript(2, $"srun --kill-on-bad-exit=1 dotnet {TrainingJob.WorkerPath} {string.Join(' ', TrainingRun)} out={output}");

        var (exitCode, log) = _cluster.Run(JobPatience, "sbatch", "--wait", script);

        Assert.AreEqual(0, exitCode, log + "\n" + JobOutput());
        var reference = InProcess(["model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in Records(output, 2))
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} of the batch job");
    }

    [TestMethod]
    public void A_rank_that_fails_fails_the_batch_job_with_its_error_in_the_job_output()
    {
        var script = BatchScript(2, $"srun --kill-on-bad-exit=1 dotnet {TrainingJob.WorkerPath} {string.Join(' ', TrainingRun)} die_rank=1 crash_at=3 out={Path.Combine(_folder, "result.{rank}.json")}");

        var (exitCode, log) = _cluster.Run(JobPatience, "sbatch", "--wait", script);

        Assert.AreNotEqual(0, exitCode, "sbatch --wait reports the failed job:\n" + log);
        StringAssert.Contains(JobOutput(), "rank 1 fails at batch 3 on purpose");
        Assert.IsFalse(File.Exists(Path.Combine(_folder, "result.0.json")), "rank 0 did not finish as if nothing happened");
    }

    [TestMethod]
    public void A_batch_job_with_one_launcher_per_node_trains_like_one_process_and_meets_at_the_port_of_the_job()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");
        // No machine count, rank, address or port: the launcher takes them from the step it runs in.
        var script = BatchScript(1, $"srun --ntasks-per-node=1 --kill-on-bad-exit=1 dotnet {TrainingJob.Metadata("AccelerateCli")} launch --debug --num_processes 2 " +
            $"{TrainingJob.WorkerPath} {string.Join(' ', TrainingRun)} out={output}");

        var (exitCode, log) = _cluster.Run(JobPatience, "sbatch", "--wait", script);

        var job = JobOutput();
        Assert.AreEqual(0, exitCode, log + "\n" + job);
        var reference = InProcess(["model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in Records(output, 2))
        {
            Assert.AreEqual(2, rank["world"]!.GetValue<int>(), "the launcher's two ranks, not srun's one task");
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} started by accelerate launch under srun");
        }
        var jobId = long.Parse(SubmittedJob().Match(log).Groups[1].Value);
        StringAssert.Matches(job, new Regex($@"main_process_ip\s+{Regex.Escape(_cluster.NodeName)}\s+slurm\s+first host of SLURM_STEP_NODELIST"));
        StringAssert.Matches(job, new Regex($@"main_process_port\s+{15000 + jobId % 10000}\s+slurm\s+15000 \+ last 4 digits of SLURM_JOB_ID"));
    }

    [TestMethod]
    public void A_rank_that_fails_under_a_launcher_started_by_srun_fails_the_job_step_with_the_launchers_summary()
    {
        var script = BatchScript(1, $"srun --ntasks-per-node=1 --kill-on-bad-exit=1 dotnet {TrainingJob.Metadata("AccelerateCli")} launch --num_processes 2 " +
            $"{TrainingJob.WorkerPath} {string.Join(' ', TrainingRun)} die_rank=1 crash_at=3 out={Path.Combine(_folder, "result.{rank}.json")}");

        var (exitCode, log) = _cluster.Run(JobPatience, "sbatch", "--wait", script);

        var job = JobOutput();
        Assert.AreNotEqual(0, exitCode, "sbatch --wait reports the failed job:\n" + log + "\n" + job);
        StringAssert.Contains(job, "Root Cause (first observed failure):");
        StringAssert.Contains(job, "rank 1 fails at batch 3 on purpose");
        Assert.IsFalse(File.Exists(Path.Combine(_folder, "result.0.json")), "rank 0 did not finish as if nothing happened");
    }

    [TestMethod]
    public void A_program_the_batch_script_runs_itself_runs_alone_instead_of_waiting_for_ranks_srun_never_started()
    {
        // The batch script sees SLURM_PROCID=0 and SLURM_NTASKS=2, but it is no task of a step: nothing starts rank 1.
        var output = Path.Combine(_folder, "result.{rank}.json");
        var script = BatchScript(2, $"dotnet {TrainingJob.WorkerPath} {string.Join(' ', TrainingRun)} out={output}");

        var (exitCode, log) = _cluster.Run(JobPatience, new Dictionary<string, string?> { ["ACCELERATE_RDZV_TIMEOUT"] = "20" }, "sbatch", "--wait", script);

        Assert.AreEqual(0, exitCode, log + "\n" + JobOutput());
        Assert.AreEqual(1, Records(output, 1)[0]["world"]!.GetValue<int>());
        StringAssert.Contains(JobOutput(), "ACC2191");
    }

    [TestMethod]
    public void A_first_host_that_neither_resolves_nor_is_a_node_stops_the_launcher_and_the_ranks_with_scontrols_answer()
    {
        // The node list names a host that no resolver knows and SLURM has no node of: nothing tells its address.
        string[] unknownFirstHost = ["env", "SLURM_STEP_NODELIST=accelerate-no-such-node", "SLURM_JOB_NODELIST=accelerate-no-such-node"];
        var output = Path.Combine(_folder, "result.{rank}.json");

        var (launcherExit, launcherLog) = _cluster.Run(JobPatience, ["srun", "-n1", .. unknownFirstHost, "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch",
            "--num_processes", "2", TrainingJob.WorkerPath, .. TrainingRun, "out=" + output]);
        var (ranksExit, ranksLog) = _cluster.Run(JobPatience, ["srun", "-n2", .. unknownFirstHost, "dotnet", TrainingJob.WorkerPath, .. TrainingRun, "out=" + output]);

        Assert.AreNotEqual(0, launcherExit, launcherLog);
        StringAssert.Contains(launcherLog, "ACC3110");
        StringAssert.Contains(launcherLog, "Machine 0's node accelerate-no-such-node (first host of SLURM_STEP_NODELIST) does not resolve on this machine");
        StringAssert.Contains(launcherLog, "scontrol show node accelerate-no-such-node` failed");
        Assert.AreNotEqual(0, ranksExit, ranksLog);
        StringAssert.Contains(ranksLog, "ACC2150");
        StringAssert.Contains(ranksLog, "Rank 0's node accelerate-no-such-node (the first host of SLURM_JOB_NODELIST) does not resolve on this machine");
        Assert.IsFalse(File.Exists(output.Replace("{rank}", "0")), "no rank trained");
    }

    [TestMethod]
    public void A_cluster_stopped_while_a_job_runs_leaves_no_process_of_its_own()
    {
        var cluster = SlurmCluster.Start();
        using var client = new RankProcesses();
        try
        {
            var srun = client.Start(cluster.Environment(), ["srun", "-n2", "sleep", "600"]);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            int Tasks() => cluster.Leftovers().Count(p => Path.GetFileName(p.Split(' ')[1]) == "sleep");
            while (Tasks() < 2 && DateTime.UtcNow < deadline) Thread.Sleep(100);
            Assert.AreEqual(2, Tasks(), "both tasks run:\n" + srun.Output);

            cluster.Dispose();

            Assert.IsEmpty(cluster.Leftovers());
            Assert.IsTrue(srun.WaitForExit(TimeSpan.FromSeconds(30)), "srun ends with its job");
        }
        finally
        {
            if (Directory.Exists(cluster.Directory)) cluster.Dispose();
        }
    }

    [TestMethod]
    public void Host_lists_expand_as_scontrol_expands_them()
    {
        string[] valid =
        [
            "vm", "node[01-04,07]", "n[01-03,7],gpu[1-2]", "n1.cluster.example.com,n2.cluster.example.com", "n1.x[1-2]", "[1-2]",
            "n[007]", "n[01-3]", "n[00-2]", "n[001-10]", "n[1-03]", "n[8-010]", "n[9-11]", "rack[0-1]_blade[0-2]", "n[1-2]-[3-4]",
            "n[1-2] m[3]", "n[1-2],", "a,,b", "n[1-3,2]",
        ];
        string[] invalid = ["gpu[1-2]-a", "x[1-3]y", "n[1-2].example.com", "n[3-1]", "n[]", "a[1-2,b]", "n[1,,2]", "n[-1]", "n[1--2]", "n[1-2]]"];

        foreach (var list in valid)
            CollectionAssert.AreEqual(Scontrol(list), SlurmHostList.Expand(list).ToList(), $"'{list}'");
        foreach (var list in invalid)
        {
            StringAssert.Contains(string.Join(' ', Scontrol(list)), "Invalid hostlist", $"scontrol rejects '{list}'");
            Assert.ThrowsExactly<FormatException>(() => SlurmHostList.Expand(list), $"'{list}'");
        }
    }

    private static List<string> Scontrol(string list)
    {
        var (exitCode, output) = _cluster.Run(TimeSpan.FromSeconds(30), "scontrol", "show", "hostnames", list);
        Assert.AreEqual(0, exitCode, output);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.Replace("[stderr] ", "")).ToList();
    }

    /// <summary>The job script of docs/clusters.md for <paramref name="tasks"/> ranks on the node, running <paramref name="command"/>.</summary>
    private string BatchScript(int tasks, string command)
    {
        var path = Path.Combine(_folder, "train.sbatch");
        File.WriteAllText(path, $"""
            #!/bin/bash
            #SBATCH --job-name=train
            #SBATCH --nodes=1
            #SBATCH --ntasks-per-node={tasks}
            #SBATCH --output={_folder}/%x-%j.out
            {command}

            """);
        return path;
    }

    private string JobOutput() => string.Join("\n", Directory.GetFiles(_folder, "train-*.out").Select(File.ReadAllText));

    /// <summary>The records the training worker's <paramref name="worldSize"/> ranks wrote (<c>out=...{rank}...</c>), in rank order.</summary>
    internal static JsonObject[] Records(string output, int worldSize) => Enumerable.Range(0, worldSize)
        .Select(r => JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", r.ToString())))!.AsObject())
        .ToArray();

    [GeneratedRegex(@"srun: jobid (\d+):")]
    private static partial Regex JobIdLine();

    [GeneratedRegex(@"Submitted batch job (\d+)")]
    private static partial Regex SubmittedJob();
}
