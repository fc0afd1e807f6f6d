using System.Diagnostics;
using Accelerate.Distributed.Mpi;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class MpiBackendTests
{
    internal static void RequireMpirun()
    {
        if (OnPath("mpirun") is null || FindLibMpi() is null)
            Assert.Inconclusive("Open MPI is not installed; eng/install-prerequisites.sh installs openmpi-bin and libopenmpi-dev.");
    }

    private static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    /// <summary>Where libmpi.so.40 is on this machine, whatever its architecture: the loader cache, Open MPI's own answer, then the usual folders.</summary>
    private static string? FindLibMpi()
    {
        var fromCache = Run("ldconfig", "-p").Split('\n')
            .Where(line => line.TrimStart().StartsWith(LibMpi.LibraryName + " ", StringComparison.Ordinal))
            .Select(line => line[(line.IndexOf("=>", StringComparison.Ordinal) + 2)..].Trim());
        var fromMpicc = Run("mpicc", "--showme:libdirs").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(folder => Path.Combine(folder, LibMpi.LibraryName));
        var usual = new[] { "/usr/lib", "/usr/lib64", "/usr/local/lib" }
            .Concat(Directory.Exists("/usr/lib") ? Directory.EnumerateDirectories("/usr/lib", "*-linux-gnu*") : [])
            .Select(folder => Path.Combine(folder, LibMpi.LibraryName));
        return fromCache.Concat(fromMpicc).Concat(usual).FirstOrDefault(File.Exists);
    }

    private static string Run(string program, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : "";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return ""; // not installed
        }
    }

    internal static RankProcesses Mpirun(int ranks, string scenario, params string[] exports)
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
        CheckScenario.AssertEveryCasePassed(output, "mpi", 2, output);
    }

    [TestMethod]
    public void Ranks_started_by_mpirun_can_choose_the_builtin_transports_instead()
    {
        RequireMpirun();
        using var job = Mpirun(3, "check", $"ACCELERATE_DISTRIBUTED_BACKEND=shm", $"MASTER_PORT={RankProcesses.FreePort()}", $"ACCELERATE_LAUNCH_SECRET={RankProcesses.NewSecret()}");

        job.WaitForAll();

        var output = job.Ranks[0].Output;
        Assert.AreEqual(0, job.Ranks[0].Process.ExitCode, output);
        CheckScenario.AssertEveryCasePassed(output, "shm", 3, output);
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
