namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class OutputTests
{
    [TestMethod]
    public void Every_rank_line_is_prefixed_and_stays_on_its_stream()
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", "sh", "-c",
            "i=0; while [ $i -lt 200 ]; do echo \"out $RANK $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; echo \"err $RANK $i\" >&2; i=$((i+1)); done"]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        var rankOut = run.Stdout.Where(l => !l.StartsWith("[accelerate]")).ToList();
        Assert.HasCount(400, rankOut);
        foreach (var line in rankOut)
            StringAssert.Matches(line, new System.Text.RegularExpressions.Regex(@"^\[rank (\d)\] out \1 \d+ x{40}$"), "whole lines, each with its own rank's prefix");
        Assert.HasCount(400, run.Stderr.Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\[rank (\d)\] err \1 \d+$")).ToList());
    }

    [TestMethod]
    public void Launcher_messages_are_marked_and_quiet_hides_them()
    {
        using var loud = LauncherRun.Probe(["--num_processes", "1"], "exit", "0");
        Assert.AreEqual(0, loud.WaitForExit());
        loud.WaitForLine(l => l.StartsWith("[accelerate] The following values were not passed to `accelerate launch`"));
        loud.WaitForLine(l => l.Contains("`--mixed_precision` was set to a value of `no`"));
        loud.WaitForLine(l => l.Contains("run `accelerate config`"));

        using var quiet = LauncherRun.Probe(["-q", "--num_processes", "1"], "exit", "0");
        Assert.AreEqual(0, quiet.WaitForExit());
        Assert.IsEmpty(quiet.Lines, quiet.AllOutput);
    }

    [TestMethod]
    public void Local_ranks_filter_shows_only_the_chosen_ranks()
    {
        using var run = LauncherRun.Start(["--num_processes", "3", "--cpu", "--local_ranks_filter", "0,2", "sh", "-c", "echo hello $RANK"]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        CollectionAssert.AreEquivalent(new[] { "[rank 0] hello 0", "[rank 2] hello 2" }, run.Stdout.ToArray());
    }

    [TestMethod]
    public void Log_dir_keeps_per_rank_stdout_stderr_and_error_files()
    {
        var logs = Directory.CreateTempSubdirectory("accelerate-logs-");
        try
        {
            using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", "--log_dir", logs.FullName, "--rdzv_id", "run7",
                LauncherRun.RankProbeDll, "throw", "1", "logged failure"]);
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);
            var attempt = Path.Combine(logs.FullName, "run7", "attempt_0");
            StringAssert.Contains(File.ReadAllText(Path.Combine(attempt, "0", "stdout.log")), "ready rank=0");
            StringAssert.Contains(File.ReadAllText(Path.Combine(attempt, "1", "stderr.log")), "logged failure");
            StringAssert.Contains(File.ReadAllText(Path.Combine(attempt, "1", "error.json")), "InvalidOperationException: logged failure");
            Assert.IsTrue(run.Stdout.Contains("[rank 0] ready rank=0 pid=" + Processes.ReadyPids(run.Lines).Single()), "the console still shows the output");
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Tee_1_writes_only_stdout_files()
    {
        var logs = Directory.CreateTempSubdirectory("accelerate-tee-");
        try
        {
            using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "--tee", "1", "--log_dir", logs.FullName, "--rdzv_id", "r", "sh", "-c", "echo to-out; echo to-err >&2"]);
            Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
            var rank0 = Path.Combine(logs.FullName, "r", "attempt_0", "0");
            Assert.AreEqual("to-out\n", File.ReadAllText(Path.Combine(rank0, "stdout.log")));
            Assert.IsFalse(File.Exists(Path.Combine(rank0, "stderr.log")));
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }
}
