using System.Text.RegularExpressions;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// The CollectivesWorker "edges" scenario (EdgeCases.cs) on every transport: sizes one element either side of every
/// threshold a transport switches at, in every dtype and reduction; strided, offset, transposed and expanded views;
/// 0-dim and empty tensors; NaN in Min/Max; averages whose sum overflows the dtype; inputs that must be refused with
/// a named error. Every rank compares each result with a reference it computes itself.
/// </summary>
[TestClass]
public sealed partial class CollectiveEdgeCaseTests
{
    /// <summary>
    /// Cases each rank checks, counted independently of the worker (a worker whose loops ran fewer does not pass):
    /// 9 numeric dtypes (bool too where nothing is reduced), 7 thresholds with one element either side, 5 reductions.
    /// </summary>
    internal const int ExpectedCases =
        9 * 21 * 5              // all-reduce around every threshold
        + 9 * 2 * 2 * 5         // reduce-scatter chunks either side of two thresholds
        + 10 * 21 * 3           // broadcast, all-gather, gather around every threshold
        + 3 * 3 * 9 + 2         // offset, strided and transposed views; expanded inputs read
        + 9 * 5 * 4 + 10 * 3 + 5 // 0-dim and empty tensors; spans of the small dtypes
        + 4 * 2 * 2             // NaN in Min and Max
        + 5 * 2 * 2 + 2         // averages near the largest value
        + 2 * 2 + 2 + 1;        // expanded outputs refused, transposed parameters, the group still works

    [TestMethod]
    [DataRow(2, "shm", true)]
    [DataRow(3, "shm", true)]
    [DataRow(4, "shm", false)]
    [DataRow(2, "tcp", true)]
    [DataRow(3, "tcp", true)]
    public void Inputs_at_the_edges_match_the_reference_or_fail_by_name(int worldSize, string backend, bool singleCopy)
    {
        using var job = RankProcesses.StartJob(worldSize, "edges", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend;
            if (!singleCopy) e["ACCELERATE_SHM_SINGLE_COPY"] = "0";
        });

        job.WaitForAll(TimeSpan.FromMinutes(5));

        AssertEveryCasePassed(job, backend);
    }

    [TestMethod]
    [DataRow("aabb", "shm+tcp")]
    [DataRow("abab", "shm+tcp")]
    [DataRow("aba", "tcp")]
    public void Inputs_at_the_edges_match_the_reference_across_hosts(string placement, string backend)
    {
        // Two hosts (network namespaces): the hierarchical all-reduce with machines' ranks contiguous or interleaved,
        // and the TCP fallback when the machines hold different numbers of ranks.
        using var hosts = CrossHostTests.CreateHosts();
        using var job = CrossHostTests.StartAcross(hosts, [.. placement.Select(c => c.ToString())], "edges");

        job.WaitForAll(TimeSpan.FromMinutes(5));

        AssertEveryCasePassed(job, backend);
    }

    [TestMethod]
    public void Inputs_at_the_edges_match_the_reference_under_mpi()
    {
        MpiBackendTests.RequireMpirun();
        using var job = MpiBackendTests.Mpirun(3, "edges");

        job.WaitForAll(TimeSpan.FromMinutes(5));

        AssertEveryCasePassed(job, "mpi", ranksPerProcess: 3);
    }

    [TestMethod]
    public void Gathers_past_mpi_counts_fail_by_name_on_every_rank()
    {
        // MPI counts and displacements are 32-bit: a block of 2 GiB or more cannot be described to it.
        MpiBackendTests.RequireMpirun();
        using var job = MpiBackendTests.Mpirun(2, $"past-int-counts {(1L << 31) + 4096}");

        job.WaitForAll(TimeSpan.FromMinutes(3));

        var output = job.Ranks[0].Output;
        Assert.AreEqual(2, Regex.Matches(output, @"backend mpi\r?$", RegexOptions.Multiline).Count, output);
        foreach (var collective in new[] { "allgather", "gather" })
            Assert.AreEqual(2, Regex.Matches(output, $@"CASE {collective} ACC2287 ").Count, $"{collective} fails with ACC2287 on both ranks\n{output}");
    }

    /// <summary>
    /// Every rank of <paramref name="job"/> joined over <paramref name="backend"/> and passed every case; each process
    /// prints for <paramref name="ranksPerProcess"/> ranks (mpirun prints for all of them).
    /// </summary>
    internal static void AssertEveryCasePassed(RankProcesses job, string backend, int ranksPerProcess = 1)
    {
        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(ranksPerProcess, Regex.Matches(rank.Output, $@"backend {Regex.Escape(backend)}\r?$", RegexOptions.Multiline).Count, job.Describe());
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            var passed = PassLine().Matches(rank.Output).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
            CollectionAssert.AreEqual(Enumerable.Repeat(ExpectedCases, ranksPerProcess).ToArray(), passed, job.Describe());
        }
    }

    [GeneratedRegex(@"\bPASS (\d+) cases\r?$", RegexOptions.Multiline)]
    private static partial Regex PassLine();
}
