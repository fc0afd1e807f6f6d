using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace Accelerate.Generators.Tests;

/// <summary>
/// tests/Programs/TrainingFunctionSample, built with the generator as a user's project is, run as
/// a user runs it: with no launcher, as two ranks, under signals and with a launcher that vanishes.
/// </summary>
[TestClass]
public sealed class EndToEndTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => Directory.CreateDirectory(_directory = Path.Combine(Path.GetTempPath(), "accelerate-e2e-" + Guid.NewGuid().ToString("N")));

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    public void Without_a_launcher_the_sample_runs_as_one_process()
    {
        using var sample = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["hello"]);

        Assert.AreEqual(0, sample.WaitForExit(), sample.Describe());
        Assert.AreEqual("rank 0 of 1", sample.StandardOutput);
    }

    [TestMethod]
    public void The_launchers_choice_runs_the_other_training_function()
    {
        using var sample = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["a", "b"],
            new Dictionary<string, string?> { ["ACCELERATE_MAIN_TRAINING_FUNCTION"] = "count-args" });

        Assert.AreEqual(2, sample.WaitForExit(), sample.Describe());
    }

    [TestMethod]
    public void An_exception_is_printed_with_the_rank_and_written_as_torchruns_error_record()
    {
        var errorFile = Path.Combine(_directory, "attempt_0", "0", "error.json");
        using var sample = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["throw"],
            new Dictionary<string, string?> { ["TORCHELASTIC_ERROR_FILE"] = errorFile });

        Assert.AreEqual(1, sample.WaitForExit(), sample.Describe());
        StringAssert.StartsWith(sample.StandardError, "[rank 0] System.InvalidOperationException: rank 0 failed on purpose");

        using var record = JsonDocument.Parse(File.ReadAllText(errorFile));
        var message = record.RootElement.GetProperty("message");
        Assert.AreEqual("System.InvalidOperationException: rank 0 failed on purpose", message.GetProperty("message").GetString());
        var extra = message.GetProperty("extraInfo");
        StringAssert.Contains(extra.GetProperty("py_callstack").GetString(), "at TrainingFunctionSample.Train.Run(");
        var timestamp = long.Parse(extra.GetProperty("timestamp").GetString()!);
        Assert.IsLessThan(300, Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp), "The timestamp is in Unix seconds.");
    }

    [TestMethod]
    [DataRow(15, "SIGTERM", 143)]
    [DataRow(2, "SIGINT", 130)]
    public void A_signal_cancels_the_token_and_the_rank_exits_with_128_plus_the_signal(int signal, string name, int exitCode)
    {
        using var sample = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["wait"]);
        sample.WaitForLine("waiting");

        sample.Signal(signal);

        Assert.AreEqual(exitCode, sample.WaitForExit(), sample.Describe());
        StringAssert.Contains(sample.StandardError, $"[rank 0] {name} received: cancelling the training function's CancellationToken");
    }

    [TestMethod]
    public void A_rank_exits_when_its_launcher_is_gone()
    {
        using var launcher = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        try
        {
            using var sample = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["wait"],
                new Dictionary<string, string?> { ["ACCELERATE_LAUNCHER_PID"] = launcher.Id.ToString() });
            sample.WaitForLine("waiting");

            launcher.Kill();
            launcher.WaitForExit();

            Assert.AreEqual(3, sample.WaitForExit(), sample.Describe());
            // Our launcher prefixes the rank's lines itself.
            StringAssert.StartsWith(sample.StandardError, $"ACC2303: the launcher (pid {launcher.Id}) is gone");
        }
        finally
        {
            if (!launcher.HasExited) launcher.Kill();
        }
    }

    [TestMethod]
    public void Two_ranks_started_with_the_launch_contract_meet_and_all_reduce()
    {
        var port = FreePort();
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        Dictionary<string, string?> Rank(int rank) => new()
        {
            ["RANK"] = $"{rank}", ["LOCAL_RANK"] = $"{rank}", ["WORLD_SIZE"] = "2", ["LOCAL_WORLD_SIZE"] = "2",
            ["GROUP_RANK"] = "0", ["GROUP_WORLD_SIZE"] = "1", ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = $"{port}",
            ["ACCELERATE_LAUNCH_SECRET"] = secret, ["TORCHELASTIC_RUN_ID"] = "e2e", ["ACCELERATE_RDZV_TIMEOUT"] = "60",
        };

        using var rank0 = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["allreduce"], Rank(0));
        using var rank1 = RunningProgram.StartDotnet(TestPaths.SampleAssembly, ["allreduce"], Rank(1));

        Assert.AreEqual(0, rank0.WaitForExit(), rank0.Describe());
        Assert.AreEqual(0, rank1.WaitForExit(), rank1.Describe());
        // Each rank contributed rank + 1: 1 + 2.
        Assert.AreEqual("rank 0 sum 3", rank0.StandardOutput);
        Assert.AreEqual("rank 1 sum 3", rank1.StandardOutput);
    }

    [TestMethod]
    public void Two_ranks_started_by_mpirun_find_their_place_and_all_reduce()
    {
        if (!File.Exists("/usr/bin/mpirun") && !File.Exists("/usr/local/bin/mpirun"))
            Assert.Inconclusive("mpirun is not installed; eng/install-prerequisites.sh installs openmpi-bin.");
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

        using var mpirun = RunningProgram.Start("mpirun",
            ["--allow-run-as-root", "--oversubscribe", "-np", "2",
             "-x", $"MASTER_PORT={FreePort()}", "-x", $"ACCELERATE_LAUNCH_SECRET={secret}",
             "dotnet", TestPaths.SampleAssembly, "allreduce"],
            TestPaths.SampleDirectory);

        Assert.AreEqual(0, mpirun.WaitForExit(), mpirun.Describe());
        StringAssert.Contains(mpirun.StandardOutput, "rank 0 sum 3");
        StringAssert.Contains(mpirun.StandardOutput, "rank 1 sum 3");
    }

    [TestMethod]
    public void Two_ranks_under_accelerate_launch_meet_and_all_reduce()
    {
        using var launch = RunningProgram.StartDotnet(TestPaths.CliAssembly,
            ["launch", "--num_processes", "2", TestPaths.SampleAssembly, "allreduce"]);

        Assert.AreEqual(0, launch.WaitForExit(), launch.Describe());
        StringAssert.Contains(launch.StandardOutput, "rank 0 sum 3");
        StringAssert.Contains(launch.StandardOutput, "rank 1 sum 3");
    }

    [TestMethod]
    public void Under_accelerate_launch_a_failing_ranks_exception_reaches_the_launchers_summary()
    {
        using var launch = RunningProgram.StartDotnet(TestPaths.CliAssembly,
            ["launch", "--num_processes", "2", TestPaths.SampleAssembly, "throw"]);

        Assert.AreNotEqual(0, launch.WaitForExit(), launch.Describe());
        // The summary reads the rank's TORCHELASTIC_ERROR_FILE record.
        StringAssert.Contains(launch.StandardError, "error     : System.InvalidOperationException: rank");
        StringAssert.Contains(launch.StandardError, "failed on purpose");
        Assert.DoesNotContain("[rank 0] [rank 0]", launch.StandardError, "The launcher prefixes lines; the rank must not add a second prefix.");
    }

    [TestMethod]
    public void Under_accelerate_launch_main_training_function_picks_the_function()
    {
        using var launch = RunningProgram.StartDotnet(TestPaths.CliAssembly,
            ["launch", "--num_processes", "1", "--main_training_function", "count-args", TestPaths.SampleAssembly, "a", "b"]);

        // count-args exits with the number of its arguments; the build's choice ("train") would exit 64.
        Assert.AreEqual(2, launch.WaitForExit(), launch.Describe());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
