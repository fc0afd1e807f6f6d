using System.Text.RegularExpressions;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed partial class TcpLinkTests
{
    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    public void Tcp_collectives_leave_the_thread_pool_idle_on_every_rank(int worldSize)
    {
        // A link that .NET's socket event thread watches (one connected asynchronously) turns each of the thousands of
        // packets of 100 all-reduces into a thread-pool work item on the receiving rank; driven on the calling thread
        // alone, the collectives queue none (a few may come from the runtime itself).
        using var job = RankProcesses.StartJob(worldSize, "quiet-pool", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "tcp");
        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            var items = long.Parse(PoolLine().Match(rank.Output).Groups[1].Value);
            Assert.IsLessThan(50L, items, $"thread-pool work items during 100 all-reduces\n{job.Describe()}");
        }
    }

    [GeneratedRegex(@"^POOL WORK ITEMS (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex PoolLine();
}
