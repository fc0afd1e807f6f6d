namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class SignalTests
{
    [TestMethod]
    [DataRow(Processes.SIGTERM, "SIGTERM")]
    [DataRow(Processes.SIGINT, "SIGINT")]
    public void A_signal_to_the_launcher_reaches_every_rank(int signal, string name)
    {
        using var run = LauncherRun.Probe(["--num_processes", "3", "--cpu"], "wait");
        var pids = Processes.ReadyPids(run.WaitForLines(l => l.Contains("ready rank="), 3));
        try
        {
            run.Signal(signal);
            run.WaitForLines(l => l.Contains($"got {name} rank="), 3);
            Assert.AreEqual(128 + signal, run.WaitForExit(), run.AllOutput);
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 5));
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }

    [TestMethod]
    public void No_rank_outlives_a_launcher_killed_by_SIGKILL()
    {
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu"], "wait");
        var pids = Processes.ReadyPids(run.WaitForLines(l => l.Contains("ready rank="), 2));
        try
        {
            run.Signal(Processes.SIGKILL);
            run.WaitForExit();
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 10), "ranks die with their launcher");
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }

    [TestMethod]
    public void A_second_signal_while_stopping_kills_at_once()
    {
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--shutdown_timeout", "600"], "ignore-term");
        var pids = Processes.ReadyPids(run.WaitForLines(l => l.Contains("ready rank="), 2));
        try
        {
            run.Signal(Processes.SIGINT);
            run.WaitForLine(l => l.Contains("received SIGINT: passing it to every rank"));
            run.Signal(Processes.SIGINT);
            Assert.AreEqual(128 + Processes.SIGINT, run.WaitForExit(60), run.AllOutput);
            run.WaitForLine(l => l.Contains("another signal came while stopping; sending SIGKILL"));
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 5));
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }
}
