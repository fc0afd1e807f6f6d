namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// Ranks that call a collective with different sizes, dtypes or operations fail on every rank with
/// ACC2110, without debug mode (the worker's mismatch-matrix runs every collective × mismatch kind).
/// </summary>
[TestClass]
public sealed class CollectiveMismatchTests
{
    [TestMethod]
    [DataRow("shm", 2)]
    [DataRow("tcp", 2)]
    [DataRow("shm", 3)]
    [DataRow("tcp", 3)]
    public void Every_collective_called_with_a_different_size_dtype_or_operation_fails_on_every_rank(string backend, int worldSize)
    {
        using var job = RankProcesses.StartJob(worldSize, "mismatch-matrix last", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend;
            e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "30";
        });

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks) StringAssert.Contains(rank.Output, $"backend {backend}", job.Describe());
        AssertEveryCaseFailedWithAcc2110(job.Ranks.Select(r => r.Output), worldSize, job.Describe);
    }

    [TestMethod]
    public void In_debug_mode_every_mismatched_collective_fails_on_every_rank_too()
    {
        // Debug mode compares call sites first, through a shared-memory all-gather.
        using var job = RankProcesses.StartJob(3, "mismatch-matrix last", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm";
            e["ACCELERATE_DEBUG_MODE"] = "true";
            e["ACCELERATE_COLLECTIVE_TIMEOUT"] = "30";
        });

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks) StringAssert.Contains(rank.Output, "backend shm", job.Describe());
        AssertEveryCaseFailedWithAcc2110(job.Ranks.Select(r => r.Output), 3, job.Describe);
    }

    [TestMethod]
    public void A_size_mismatch_names_both_calls()
    {
        using var job = RankProcesses.StartJob(2, "mismatch-matrix last", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm");

        job.WaitForAll(TimeSpan.FromMinutes(5));

        var line = job.Ranks[0].Output.Split('\n').Single(l => l.StartsWith("CASE allreduce-size ", StringComparison.Ordinal));
        StringAssert.Contains(line, "AllReduce(Sum) of 4 float32", job.Describe());
        StringAssert.Contains(line, "AllReduce(Sum) of 8 float32", job.Describe());
    }

    /// <summary>
    /// Checks the <c>CASE</c> lines printed by <paramref name="ranks"/> ranks (in one or several
    /// outputs, as mpirun merges them): every case ended in ACC2110 on every rank.
    /// </summary>
    internal static void AssertEveryCaseFailedWithAcc2110(IEnumerable<string> outputs, int ranks, Func<string> describe)
    {
        var lines = outputs.SelectMany(o => o.Split('\n')).Select(l => l.TrimEnd('\r')).ToArray();
        var counts = lines.Where(l => l.StartsWith("CASES ", StringComparison.Ordinal)).Select(l => int.Parse(l["CASES ".Length..])).Distinct().ToArray();
        Assert.AreEqual(1, counts.Length, $"Every rank prints the number of cases first.\n{describe()}");
        var cases = counts[0];
        var outcomes = lines.Where(l => l.StartsWith("CASE ", StringComparison.Ordinal)).ToArray();
        var wrong = outcomes.Where(l => l.Split(' ')[2] != "ACC2110").ToArray();

        Assert.AreEqual(0, wrong.Length, $"Cases that did not fail with ACC2110:\n{string.Join("\n", wrong)}\n\n{describe()}");
        Assert.AreEqual(cases * ranks, outcomes.Length, describe());
    }
}
