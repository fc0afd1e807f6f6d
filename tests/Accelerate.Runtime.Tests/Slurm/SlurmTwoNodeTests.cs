using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using Accelerate.Runtime.Tests.Training;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Slurm;

/// <summary>
/// Jobs on a real two-node SLURM cluster: each node a network namespace with its own slurmd and address, under a
/// name that resolves nowhere (SLURM reaches the nodes at their NodeAddr). One launcher per node, or srun starting
/// every rank, trains like one process, meeting at node 0's NodeAddr.
/// </summary>
[TestClass]
[UnsupportedOSPlatform("windows")]
public sealed class SlurmTwoNodeTests
{
    private static readonly string[] TrainingRun = ["model=mlp", "optimizer=adam", "batch=16", "steps=10", "size=160"];
    private static readonly TimeSpan JobPatience = TimeSpan.FromSeconds(150);
    private static SlurmCluster _cluster = null!;
    private string _folder = null!;

    [ClassInitialize]
    public static void StartCluster(TestContext context) => _cluster = SlurmCluster.SharedTwoNodes;

    [TestInitialize]
    public void CreateFolder()
    {
        _folder = Directory.CreateTempSubdirectory("accelerate-slurm-job-").FullName;
        // Ranks run as root from the shared file system; the folder is theirs to write.
        File.SetUnixFileMode(_folder, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    [TestCleanup]
    public void RemoveFolder() => Directory.Delete(_folder, recursive: true);

    [TestMethod]
    public void One_launcher_per_node_takes_the_machines_its_rank_and_node_0s_address_from_SLURM_and_trains_like_one_process()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");

        // No machine count, rank, address or port: each launcher takes them from the step it runs in.
        var (exitCode, log) = _cluster.Run(JobPatience, ["srun", "--label", "-N2", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
            "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--debug", "--num_processes", "2", TrainingJob.WorkerPath, .. TrainingRun, "out=" + output]);

        Assert.AreEqual(0, exitCode, log + "\n" + _cluster.Logs());
        var reference = InProcess(["model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in SlurmTests.Records(output, 2))
        {
            Assert.AreEqual(2, rank["world"]!.GetValue<int>(), "one rank on each node");
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} started by the launcher on node {rank["rank"]}");
        }
        var node0 = Regex.Escape(_cluster.NodeNames[0]);
        var address = Regex.Escape(_cluster.NodeAddresses[0]);
        for (var task = 0; task < 2; task++)
        {
            StringAssert.Matches(log, new Regex($@"(?m)^(\[stderr\] )?{task}: .*num_machines\s+2\s+slurm\s+SLURM_STEP_NUM_NODES"));
            StringAssert.Matches(log, new Regex($@"(?m)^(\[stderr\] )?{task}: .*machine_rank\s+{task}\s+slurm\s+SLURM_NODEID"));
            // The node's name does not resolve: machine 0 is reached at the NodeAddr SLURM has for it.
            StringAssert.Matches(log, new Regex($@"(?m)^(\[stderr\] )?{task}: .*main_process_ip\s+{address}\s+slurm\s+NodeAddr of {node0}, first host of SLURM_STEP_NODELIST"));
        }
        StringAssert.Matches(log, new Regex($@"(?m)^(\[stderr\] )?1: .*machine 1: joining machine 0 at {address}:"));
    }

    [TestMethod]
    public void Ranks_started_by_srun_on_two_nodes_without_the_launcher_meet_at_node_0s_address_and_train_like_one_process()
    {
        var output = Path.Combine(_folder, "result.{rank}.json");

        var (exitCode, log) = _cluster.Run(JobPatience, ["srun", "--label", "-N2", "-n2", "--kill-on-bad-exit=1", "dotnet", TrainingJob.WorkerPath, .. TrainingRun, "out=" + output]);

        Assert.AreEqual(0, exitCode, log + "\n" + _cluster.Logs());
        var reference = InProcess(["model=mlp", "optimizer=adam", "batch=32", "steps=10", "size=160"]);
        foreach (var rank in SlurmTests.Records(output, 2))
        {
            Assert.AreEqual(2, rank["world"]!.GetValue<int>());
            AssertClose(Parameters(reference), Parameters(rank), 1e-5, $"rank {rank["rank"]} started by srun on node {rank["rank"]}");
        }
        StringAssert.Contains(log, $"rank 0's node {_cluster.NodeNames[0]} does not resolve here; meeting at its NodeAddr {_cluster.NodeAddresses[0]}");
    }
}
