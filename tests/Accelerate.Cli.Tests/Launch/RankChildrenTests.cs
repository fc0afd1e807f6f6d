using System.Globalization;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>Processes a rank starts end with the rank, as under torchrun: none holds ports or memory after it.</summary>
[TestClass]
public sealed class RankChildrenTests
{
    private static List<int> ChildPids(IEnumerable<string> lines) =>
        lines.Where(l => l.Contains("child=", StringComparison.Ordinal))
            .Select(l => int.Parse(l[(l.IndexOf("child=", StringComparison.Ordinal) + 6)..].Split(' ')[0], CultureInfo.InvariantCulture)).ToList();

    [TestMethod]
    [DataRow(0)]
    [DataRow(3)]
    public void Children_a_rank_leaves_running_are_killed_when_it_exits(int exitCode)
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", "sh", "-c", $"sleep 600 & echo child=$!; exit {exitCode}"]);
        Assert.AreEqual(exitCode, run.WaitForExit(), run.AllOutput);
        var children = ChildPids(run.Stdout);
        try
        {
            Assert.HasCount(2, children, run.AllOutput);
            Assert.IsEmpty(Processes.WaitUntilGone(children, 10), "no child of a rank outlives it");
        }
        finally
        {
            Processes.KillAll(children);
        }
    }

    [TestMethod]
    public void Children_of_a_failed_attempt_are_gone_before_the_restart()
    {
        using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "--max_restarts", "1", "sh", "-c",
            "sleep 600 & echo child=$! attempt=$TORCHELASTIC_RESTART_COUNT; [ $TORCHELASTIC_RESTART_COUNT = 1 ] && exit 0; exit 3"]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        var children = ChildPids(run.Stdout);
        try
        {
            Assert.HasCount(2, children, run.AllOutput);
            Assert.IsEmpty(Processes.WaitUntilGone(children, 10), run.AllOutput);
        }
        finally
        {
            Processes.KillAll(children);
        }
    }
}
