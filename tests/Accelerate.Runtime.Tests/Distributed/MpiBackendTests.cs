namespace Accelerate.Tests.Distributed;

[TestClass]
public sealed class MpiBackendTests
{
    private static void RequireMpirun()
    {
        if (!File.Exists("/usr/bin/mpirun") || !File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40"))
            Assert.Inconclusive("Open MPI is not installed; eng/install-prerequisites.sh installs openmpi-bin and libopenmpi-dev.");
    }

    private static RankProcesses Mpirun(int ranks, string scenario, params string[] exports)
    {
        var job = new RankProcesses();
        string[] command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), .. exports.SelectMany(e => new[] { "-x", e }), "dotnet", RankProcesses.WorkerPath, .. scenario.Split(' ')];
        job.Start(new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" }, command);
        return job;
    }

    [TestMethod]
    public void Ranks_started_by_mpirun_use_the_mpi_backend_and_every_collective_matches_the_reference()
    {
        RequireMpirun();
        using var job = Mpirun(2, "check");

        job.WaitForAll();

        var output = job.Ranks[0].Output;
        Assert.AreEqual(0, job.Ranks[0].Process.ExitCode, output);
        Assert.AreEqual(2, output.Split('\n').Count(l => l.Contains("backend mpi")), output);
        Assert.AreEqual(2, output.Split('\n').Count(l => l.StartsWith("PASS", StringComparison.Ordinal)), output);
    }

    [TestMethod]
    public void Ranks_started_by_mpirun_can_choose_the_builtin_transports_instead()
    {
        RequireMpirun();
        using var job = Mpirun(3, "check", $"ACCELERATE_DISTRIBUTED_BACKEND=shm", $"MASTER_PORT={RankProcesses.FreePort()}", $"ACCELERATE_LAUNCH_SECRET={RankProcesses.NewSecret()}");

        job.WaitForAll();

        var output = job.Ranks[0].Output;
        Assert.AreEqual(0, job.Ranks[0].Process.ExitCode, output);
        Assert.AreEqual(3, output.Split('\n').Count(l => l.Contains("backend shm")), output);
        Assert.AreEqual(3, output.Split('\n').Count(l => l.StartsWith("PASS", StringComparison.Ordinal)), output);
    }

    [TestMethod]
    public void Every_collective_called_with_a_different_size_dtype_or_operation_fails_on_every_rank_under_mpi()
    {
        RequireMpirun();
        // One file per rank: mpirun's merged output may cut long lines of one rank into another's.
        var outputs = Directory.CreateTempSubdirectory("accelerate-mpi-");
        try
        {
            using var job = Mpirun(2, $"mismatch-matrix last mpi {outputs.FullName}");

            job.WaitForAll(TimeSpan.FromMinutes(5));

            var ranks = Enumerable.Range(0, 2).Select(r => Path.Combine(outputs.FullName, $"rank.{r}")).Select(f => File.Exists(f) ? File.ReadAllText(f) : "").ToArray();
            string Describe() => job.Describe() + string.Concat(ranks.Select((o, r) => $"\n--- rank {r}\n{o}"));
            Assert.IsTrue(ranks.All(o => o.Contains("backend mpi")), Describe());
            CollectiveMismatchTests.AssertEveryCaseFailedWithAcc2110(ranks, 2, Describe);
        }
        finally
        {
            outputs.Delete(recursive: true);
        }
    }
}
