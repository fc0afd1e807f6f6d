using System.Text.RegularExpressions;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// Ranks in different network namespaces of one machine (containers, pods of one node) run on the same CPUs: they are
/// bound as the ranks of one machine are (<see cref="CrossHostTests"/> creates the namespaces).
/// </summary>
[TestClass]
public sealed partial class CpuPlacementTests
{
    [TestMethod]
    public void Ranks_in_two_network_namespaces_of_one_machine_are_bound_to_different_CPUs()
    {
        if (Environment.ProcessorCount < 2) Assert.Inconclusive("needs two CPUs");
        using var hosts = CrossHostTests.CreateHosts();
        using var job = CrossHostTests.StartAcross(hosts, ["a", "b"], "join");

        var cpus = CpusOfEveryRank(job);

        foreach (var rank in cpus) Assert.IsTrue(rank.Count < Environment.ProcessorCount, $"each rank is bound to its share of the CPUs.\n{job.Describe()}");
        Assert.IsFalse(cpus[0].Overlaps(cpus[1]), job.Describe());
    }

    [TestMethod]
    public void Ranks_in_two_network_namespaces_never_share_a_CPU_they_are_bound_to()
    {
        // Two ranks per namespace: bound per namespace, the first of each would share a core (and spin away each other's turn).
        using var hosts = CrossHostTests.CreateHosts();
        using var job = CrossHostTests.StartAcross(hosts, ["a", "a", "b", "b"], "join");

        var cpus = CpusOfEveryRank(job);

        var bound = cpus.Where(c => c.Count < Environment.ProcessorCount).ToList();
        for (var i = 0; i < bound.Count; i++)
            for (var j = i + 1; j < bound.Count; j++)
                Assert.IsFalse(bound[i].Overlaps(bound[j]), job.Describe());
    }

    private static List<HashSet<int>> CpusOfEveryRank(RankProcesses job)
    {
        job.WaitForAll(RankProcesses.Patience);
        return job.Ranks.Select(rank =>
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            var list = CpuList().Match(rank.Output);
            Assert.IsTrue(list.Success, job.Describe());
            return list.Groups[1].Value.Split(',').SelectMany(Range).ToHashSet();
        }).ToList();

        static IEnumerable<int> Range(string part) =>
            part.Split('-') is [var from, var to] ? Enumerable.Range(int.Parse(from), int.Parse(to) - int.Parse(from) + 1) : [int.Parse(part)];
    }

    [GeneratedRegex(@"^cpus ([0-9,-]+)$", RegexOptions.Multiline)]
    private static partial Regex CpuList();
}
