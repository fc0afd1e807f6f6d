namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class RestartTests
{
    [TestMethod]
    public void A_failed_group_restarts_with_the_restart_count_incremented()
    {
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--max_restarts", "3"], "restart-until", "2");
        try
        {
            Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
            // Rank 0 fails at once on attempts 0 and 1 (rank 1 may be stopped before it prints); attempt 2 runs both to the end.
            foreach (var restart in new[] { 0, 1, 2 })
                run.WaitForLine(l => l == $"[rank 0] attempt restart={restart} rank=0");
            run.WaitForLine(l => l == "[rank 1] attempt restart=2 rank=1");
            Assert.IsFalse(run.Lines.Any(l => l.Contains("attempt restart=3")), "no restart after success");
            run.WaitForLine(l => l.Contains("rank 0 failed (exit code 5); restarting the group (restart 1 of 3)"));
            run.WaitForLine(l => l.Contains("restarting the group (restart 2 of 3)"));
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(run.Lines));
        }
    }

    [TestMethod]
    public void When_restarts_run_out_the_summary_says_how_many_were_used()
    {
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--max_restarts", "1"], "restart-until", "5");
        try
        {
            Assert.AreEqual(5, run.WaitForExit(), run.AllOutput);
            run.WaitForLine(l => l == "[rank 0] attempt restart=1 rank=0");
            run.WaitForLine(l => l.Contains("Restarts: 1 of 1 used"));
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(run.Lines));
        }
    }
}
