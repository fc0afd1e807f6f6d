namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class FailureTests
{
    [TestMethod]
    public void A_rank_that_exits_nonzero_stops_the_others_and_the_summary_shows_its_stderr()
    {
        var trigger = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("n"));
        using var run = LauncherRun.Probe(["--num_processes", "3", "--cpu"], "fail", "1", "3", trigger);
        var others = run.WaitForLines(l => l.Contains("ready rank="), 3);
        try
        {
            File.WriteAllText(trigger, "");
            Assert.AreEqual(3, run.WaitForExit(), "the launcher exits with the failed rank's code");
            var pids = Processes.ReadyPids(others).ToList();
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 5), "every rank is gone when the launcher exits");
            run.WaitForLine(l => l == "[rank 0] got SIGTERM rank=0");
            run.WaitForLine(l => l == "[rank 2] got SIGTERM rank=2");

            var summary = string.Join('\n', run.Stderr.Where(l => l.StartsWith("[accelerate]")));
            StringAssert.Contains(summary, "RankProbe.dll FAILED");
            StringAssert.Contains(summary, "rank      : 1 (local_rank: 1)");
            StringAssert.Contains(summary, "exitcode  : exit code 3");
            StringAssert.Contains(summary, "last words of rank 1");
            StringAssert.Contains(summary, "Stopped by the launcher: ranks 0, 2");
            StringAssert.Contains(summary, "Restarts: 0 of 0 used");
            StringAssert.Matches(summary, new System.Text.RegularExpressions.Regex(@"time      : \d{4}-\d\d-\d\d_\d\d:\d\d:\d\d"));
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(run.Lines));
            File.Delete(trigger);
        }
    }

    [TestMethod]
    public void The_summary_shows_the_error_file_message_and_stack_trace()
    {
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu"], "throw", "0", "the loss went NaN");
        try
        {
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);
            var summary = string.Join('\n', run.Stderr.Where(l => l.StartsWith("[accelerate]")));
            StringAssert.Contains(summary, "error     : InvalidOperationException: the loss went NaN");
            StringAssert.Contains(summary, "traceback :");
            StringAssert.Contains(summary, "at Program.");
            StringAssert.Matches(summary, new System.Text.RegularExpressions.Regex(@"error_file: /.*/0/error\.json"));
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(run.Lines));
        }
    }

    [TestMethod]
    public void A_rank_killed_by_SIGKILL_is_reported_by_signal()
    {
        var trigger = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("n"));
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu"], "selfkill", "1", trigger);
        try
        {
            run.WaitForLines(l => l.Contains("ready rank="), 2);
            File.WriteAllText(trigger, "");
            Assert.AreEqual(137, run.WaitForExit(), run.AllOutput);
            var summary = string.Join('\n', run.Stderr);
            StringAssert.Contains(summary, "exitcode  : signal 9 (SIGKILL)");
            StringAssert.Contains(summary, "rank      : 1 (local_rank: 1)");
            run.WaitForLine(l => l == "[rank 0] got SIGTERM rank=0");
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(run.Lines));
            File.Delete(trigger);
        }
    }

    [TestMethod]
    public void A_rank_that_ignores_SIGTERM_is_killed_after_the_grace_period()
    {
        using var stubborn = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--shutdown_timeout", "1"], "ignore-term");
        var pids = Processes.ReadyPids(stubborn.WaitForLines(l => l.Contains("ready rank="), 2));
        try
        {
            stubborn.Signal(Processes.SIGTERM);
            stubborn.WaitForLines(l => l.Contains("ignored SIGTERM"), 2);
            Assert.AreEqual(128 + Processes.SIGTERM, stubborn.WaitForExit(), stubborn.AllOutput);
            stubborn.WaitForLine(l => l.Contains("did not stop within 1 s of SIGTERM; sending SIGKILL"));
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 5));
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }
}
