using Accelerate.Cli.Launch;
using Accelerate.Cli.Tests.Launch;

namespace Accelerate.Cli.Tests.SelfTest;

/// <summary>
/// <c>accelerate test</c> as a user runs it: it builds its test program (here against the SDK of this
/// source tree, inside the repository so that the tree's libtorch and tasks are used), launches it
/// with the config file's settings and says whether the machine is set up right.
/// </summary>
[TestClass]
public sealed class TestCommandTests
{
    private static readonly string RepoRoot = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(LauncherRun.AccelerateDll)!, "../../../../.."));
    private DirectoryInfo _folder = null!;

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("accelerate-test-command-");

    [TestCleanup]
    public void RemoveFolder() => _folder.Delete(recursive: true);

    [TestMethod]
    public void Accelerate_test_passes_every_check_on_two_processes_of_the_config_file()
    {
        var config = WriteConfig("""
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            mixed_precision: 'no'
            num_machines: 1
            num_processes: 2
            machine_rank: 0
            use_cpu: true
            """);

        using var run = Start(["--config_file", config]);

        Assert.AreEqual(0, run.WaitForExit(seconds: 600), run.AllOutput);
        foreach (var check in new[] { "rendezvous", "all_reduce", "all_gather", "broadcast", "reduce_scatter", "barrier", "training" })
            CollectionAssert.Contains(run.Stdout.ToList(), $"[rank 0] check {check}: ok", run.AllOutput);
        CollectionAssert.Contains(run.Stdout.ToList(), "[rank 0] accelerate test: all checks passed on 2 process(es) (shm)", run.AllOutput);
        Assert.AreEqual("accelerate test: success: this machine is set up right for these launch settings.", run.Stdout[^1]);
    }

    [TestMethod]
    public void Accelerate_test_fails_with_its_code_and_the_launchers_when_the_main_machine_never_answers()
    {
        var config = WriteConfig($"""
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            mixed_precision: 'no'
            num_machines: 2
            num_processes: 2
            machine_rank: 1
            main_process_ip: 127.0.0.1
            main_process_port: {PortProbe.FreePort()}
            use_cpu: true
            """);

        using var run = Start(["--config_file", config, "--rdzv_timeout", "5"]);

        Assert.AreNotEqual(0, run.WaitForExit(seconds: 600), run.AllOutput);
        run.WaitForLine(l => l.StartsWith("accelerate launch: error ACC3030", StringComparison.Ordinal));
        StringAssert.StartsWith(run.Stderr[^1], "accelerate test: error ACC3100: the distributed test failed");
        Assert.IsFalse(run.Stdout.Any(l => l.Contains("success", StringComparison.Ordinal)), run.AllOutput);
    }

    [TestMethod]
    public void Accelerate_test_that_cannot_build_its_program_says_so_with_its_code()
    {
        using var run = Start(["--num_processes", "2", "--cpu"], sdk: Path.Combine(_folder.FullName, "no-sdk-here"));

        Assert.AreEqual(1, run.WaitForExit(seconds: 300), run.AllOutput);
        run.WaitForLine(l => l.StartsWith("accelerate test: error ACC3101: the built-in test program could not be built", StringComparison.Ordinal));
    }

    private string WriteConfig(string yaml)
    {
        var file = Path.Combine(_folder.FullName, "config.yaml");
        File.WriteAllText(file, yaml);
        return file;
    }

    /// <summary>The test program is built in the repository's artifacts (kept between runs: the second run builds nothing).</summary>
    private static LauncherRun Start(string[] args, string? sdk = null) => LauncherRun.Start(args, new Dictionary<string, string?>
    {
        ["XDG_CACHE_HOME"] = Path.Combine(RepoRoot, "artifacts", "accelerate-test-cache", sdk is null ? "sdk" : "broken"),
        ["ACCELERATE_SELF_TEST_SDK"] = sdk ?? Path.Combine(RepoRoot, "src", "Accelerate.Sdk", "Sdk"),
    }, subcommand: "test");
}
