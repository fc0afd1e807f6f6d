namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class ConfigFileTests
{
    private const string MultiCpuConfig = """
        compute_environment: LOCAL_MACHINE
        distributed_type: MULTI_CPU
        mixed_precision: bf16
        num_machines: 1
        num_processes: 3
        machine_rank: 0
        use_cpu: true
        rdzv_backend: static
        same_network: true
        """;

    [TestMethod]
    public void The_config_file_sets_what_the_command_line_does_not()
    {
        var folder = Directory.CreateTempSubdirectory("accelerate-config-");
        try
        {
            var file = Path.Combine(folder.FullName, "cpu.yaml");
            File.WriteAllText(file, MultiCpuConfig);
            using var run = LauncherRun.Start(["--config_file", file, "--mixed_precision", "fp16", LauncherRun.RankProbeDll, "env"]);
            Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
            var ranks = RankReport.From(run.Stdout);
            Assert.HasCount(3, ranks, "num_processes from the file");
            Assert.IsTrue(ranks.All(r => r.Env["ACCELERATE_MIXED_PRECISION"] == "fp16"), "the flag beats the file");
            Assert.IsTrue(ranks.All(r => r.Env["ACCELERATE_USE_CPU"] == "True"));
            Assert.IsFalse(run.Lines.Any(l => l.Contains("defaults used instead")), "no defaults message when a config file is used");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void The_default_config_file_is_read_and_print_config_says_where_each_value_came_from()
    {
        var home = Directory.CreateTempSubdirectory("accelerate-hf-home-");
        try
        {
            Directory.CreateDirectory(Path.Combine(home.FullName, "accelerate"));
            var file = Path.Combine(home.FullName, "accelerate", "default_config.yaml");
            File.WriteAllText(file, MultiCpuConfig);
            using var run = LauncherRun.Start(["--print_config", "--num_processes", "2", LauncherRun.RankProbeDll, "env"],
                new Dictionary<string, string?> { ["HF_HOME"] = home.FullName, ["OMP_NUM_THREADS"] = "6" });
            Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
            StringAssert.Matches(run.WaitForLine(l => l.StartsWith("num_processes ")), new System.Text.RegularExpressions.Regex(@"2\s+flag\s+--num_processes$"));
            StringAssert.Matches(run.WaitForLine(l => l.StartsWith("mixed_precision ")), new System.Text.RegularExpressions.Regex(@"bf16\s+config file\s+" + System.Text.RegularExpressions.Regex.Escape(file) + "$"));
            StringAssert.Matches(run.WaitForLine(l => l.StartsWith("num_cpu_threads_per_process ")), new System.Text.RegularExpressions.Regex(@"6\s+environment\s+OMP_NUM_THREADS$"));
            StringAssert.Matches(run.WaitForLine(l => l.StartsWith("max_restarts ")), new System.Text.RegularExpressions.Regex(@"0\s+default"));
            Assert.IsEmpty(RankReport.From(run.Stdout), "--print_config starts nothing");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void A_missing_or_broken_config_file_is_an_error_naming_the_file()
    {
        using var missing = LauncherRun.Start(["--config_file", "/nonexistent/accelerate.yaml", LauncherRun.RankProbeDll, "env"]);
        Assert.AreEqual(2, missing.WaitForExit());
        missing.WaitForLine(l => l.StartsWith("accelerate launch: ") && l.Contains("/nonexistent/accelerate.yaml"));

        var folder = Directory.CreateTempSubdirectory("accelerate-config-");
        try
        {
            var file = Path.Combine(folder.FullName, "bad.yaml");
            File.WriteAllText(file, "distributed_type: MULTI_CPU\nnum_processes: many\n");
            using var broken = LauncherRun.Start(["--config_file", file, LauncherRun.RankProbeDll, "env"]);
            Assert.AreEqual(2, broken.WaitForExit());
            broken.WaitForLine(l => l.Contains(file + ":2:") && l.Contains("num_processes"));
            Assert.IsEmpty(RankReport.From(broken.Stdout));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
