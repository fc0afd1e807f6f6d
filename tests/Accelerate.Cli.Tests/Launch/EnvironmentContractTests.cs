namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class EnvironmentContractTests
{
    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    public void Every_rank_gets_the_launch_contract(int processes)
    {
        using var run = LauncherRun.Probe(["--num_processes", processes.ToString(), "--cpu", "--rdzv_id", "job42"], "env");
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);

        var ranks = RankReport.From(run.Stdout);
        CollectionAssert.AreEqual(Enumerable.Range(0, processes).ToList(), ranks.Select(r => r.Rank).ToList(), run.AllOutput);
        var port = ranks[0].Env["MASTER_PORT"];
        Assert.IsTrue(int.Parse(port) > 0);
        var secret = ranks[0].Env["ACCELERATE_LAUNCH_SECRET"];
        Assert.MatchesRegex("^[0-9a-f]{64}$", secret);
        foreach (var rank in ranks)
        {
            var env = rank.Env;
            var expected = new Dictionary<string, string>
            {
                ["LOCAL_RANK"] = rank.Rank.ToString(),
                ["WORLD_SIZE"] = processes.ToString(),
                ["LOCAL_WORLD_SIZE"] = processes.ToString(),
                ["GROUP_RANK"] = "0",
                ["GROUP_WORLD_SIZE"] = "1",
                ["ROLE_RANK"] = rank.Rank.ToString(),
                ["ROLE_NAME"] = "default",
                ["MASTER_ADDR"] = "127.0.0.1",
                ["MASTER_PORT"] = port,
                ["TORCHELASTIC_RESTART_COUNT"] = "0",
                ["TORCHELASTIC_MAX_RESTARTS"] = "0",
                ["TORCHELASTIC_RUN_ID"] = "job42",
                ["OMP_NUM_THREADS"] = Math.Max(1, Environment.ProcessorCount / processes).ToString(),
                ["ACCELERATE_MIXED_PRECISION"] = "no",
                ["ACCELERATE_USE_CPU"] = "True",
                ["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"] = "1",
                ["ACCELERATE_LAUNCH_SECRET"] = secret,
                ["ACCELERATE_LAUNCHER_PID"] = run.Pid.ToString(),
            };
            foreach (var (name, value) in expected)
                Assert.AreEqual(value, env.GetValueOrDefault(name), $"{name} of rank {rank.Rank}");
            Assert.IsFalse(env.ContainsKey("ACCELERATE_DEBUG_MODE"), "debug mode is off unless asked");
            Assert.IsFalse(env.ContainsKey("CUDA_VISIBLE_DEVICES"), "gpu_ids 'all' leaves CUDA_VISIBLE_DEVICES alone");
            StringAssert.EndsWith(env["TORCHELASTIC_ERROR_FILE"], $"/{rank.Rank}/error.json");
        }
        Assert.AreEqual(processes, ranks.Select(r => r.Env["TORCHELASTIC_ERROR_FILE"]).Distinct().Count(), "each rank has its own error file");
    }

    [TestMethod]
    public void Options_in_every_spelling_reach_the_ranks()
    {
        using var run = LauncherRun.Start(
            ["--num-processes=2", "--cpu", "--mixed_precision", "bf16", "--num_cpu_threads_per_process=3", "--gradient-accumulation-steps", "4",
             "--debug", "--gpu_ids", "0,2", "--main_training_function=Train", "--role", "trainer", "--max_restarts", "2",
             LauncherRun.RankProbeDll, "env"]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);

        var ranks = RankReport.From(run.Stdout);
        Assert.HasCount(2, ranks);
        foreach (var env in ranks.Select(r => r.Env))
        {
            Assert.AreEqual("bf16", env["ACCELERATE_MIXED_PRECISION"]);
            Assert.AreEqual("3", env["OMP_NUM_THREADS"]);
            Assert.AreEqual("4", env["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"]);
            Assert.AreEqual("true", env["ACCELERATE_DEBUG_MODE"]);
            Assert.AreEqual("0,2", env["CUDA_VISIBLE_DEVICES"]);
            Assert.AreEqual("Train", env["ACCELERATE_MAIN_TRAINING_FUNCTION"]);
            Assert.AreEqual("trainer", env["ROLE_NAME"]);
            Assert.AreEqual("2", env["TORCHELASTIC_MAX_RESTARTS"]);
        }
        // --debug also prints where every setting came from.
        run.WaitForLine(l => l.Contains("mixed_precision") && l.Contains("bf16") && l.Contains("flag") && l.Contains("--mixed_precision"));
    }

    [TestMethod]
    public void Program_arguments_pass_untouched_with_spaces_and_double_dash()
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", "--", LauncherRun.RankProbeDll, "env", "a b", "--num_processes", "5", "--", "-q", ""]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);

        var ranks = RankReport.From(run.Stdout);
        Assert.HasCount(2, ranks);
        foreach (var rank in ranks)
            CollectionAssert.AreEqual(new[] { "a b", "--num_processes", "5", "--", "-q", "" }, rank.Args.ToArray());
    }

    [TestMethod]
    public void OMP_NUM_THREADS_from_the_environment_is_kept()
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", LauncherRun.RankProbeDll, "env"], new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "7" });
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        Assert.IsTrue(RankReport.From(run.Stdout).All(r => r.Env["OMP_NUM_THREADS"] == "7"), run.AllOutput);
    }

    [TestMethod]
    public void A_native_executable_runs_as_well_as_a_dll()
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", "sh", "-c", "echo \"native $RANK of $WORLD_SIZE\""]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        run.WaitForLine(l => l == "[rank 0] native 0 of 2");
        run.WaitForLine(l => l == "[rank 1] native 1 of 2");
    }
}
