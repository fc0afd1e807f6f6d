using System.Text.RegularExpressions;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// The gathers into the caller's tensors (<c>AllGather(outputs, input)</c>, <c>AllGatherInto</c>, <c>Gather(input, outputs,
/// destination)</c>, <c>GatherInto</c>) on real ranks: every dtype and size against the expected blocks, and every bad output
/// named with its code on every rank. Mismatches between ranks are in the worker's mismatch-matrix (CollectiveMismatchTests).
/// </summary>
[TestClass]
public sealed partial class GatherIntoTests
{
    [TestMethod]
    [DataRow(2, "shm")]
    [DataRow(3, "shm")]
    [DataRow(4, "shm")]
    [DataRow(2, "tcp")]
    [DataRow(3, "tcp")]
    [DataRow(4, "tcp")]
    public void Gathers_into_caller_tensors_match_the_expected_blocks(int worldSize, string backend)
    {
        using var job = RankProcesses.StartJob(worldSize, "gather-into", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend);

        job.WaitForAll(TimeSpan.FromMinutes(5));

        AssertEveryCasePassed(job, worldSize, backend);
    }

    [TestMethod]
    public void Gathers_into_caller_tensors_match_the_expected_blocks_through_the_shared_memory_slots_alone()
    {
        using var job = RankProcesses.StartJob(3, "gather-into", (_, e) =>
        {
            e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm";
            e["ACCELERATE_SHM_SINGLE_COPY"] = "0";
        });

        job.WaitForAll(TimeSpan.FromMinutes(5));

        AssertEveryCasePassed(job, 3, "shm");
    }

    [TestMethod]
    public void Gathers_into_caller_tensors_match_the_expected_blocks_under_mpirun()
    {
        MpiBackendTests.RequireMpirun();
        using var job = MpiBackendTests.Mpirun(2, "gather-into");

        job.WaitForAll();

        var output = job.Ranks[0].Output;
        Assert.AreEqual(0, job.Ranks[0].Process.ExitCode, output);
        StringAssert.Contains(output, "backend mpi", output);
        var passed = PassLine().Matches(output).Select(m => int.Parse(m.Groups[1].Value)).Order().ToArray();
        CollectionAssert.AreEqual(new[] { ExpectedCases(0, 2), ExpectedCases(1, 2) }.Order().ToArray(), passed, output);
    }

    [TestMethod]
    [DataRow("shm")]
    [DataRow("tcp")]
    public void Every_bad_output_is_named_with_its_code_and_the_group_keeps_working(string backend)
    {
        using var job = RankProcesses.StartJob(2, "gather-into-errors", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = backend);

        job.WaitForAll(TimeSpan.FromMinutes(2));

        var expected = new Dictionary<string, string>
        {
            ["allgather-count"] = "ACC2263 AllGather got 1 tensors in 'outputs' for 2 ranks",
            ["allgather-null"] = "ACC2263 AllGather: outputs[1] is null",
            ["allgather-shape"] = "ACC2264 AllGather: outputs[1] has shape [3, 2]",
            ["allgather-dtype"] = "ACC2265 AllGather: 'outputs[1]' is float64 but the input is float32",
            ["allgather-noncontiguous"] = "ACC2266 AllGather: 'outputs[1]' is not contiguous",
            ["allgatherinto-shape"] = "ACC2264 AllGatherInto: 'output' has shape [5, 3]",
            ["allgatherinto-dtype"] = "ACC2265 AllGatherInto: 'output' is int64",
            ["allgatherinto-noncontiguous"] = "ACC2266 AllGatherInto: 'output' is not contiguous",
            ["gather-missing"] = "ACC2263 Gather got no tensors in 'outputs'",
            ["gather-count"] = "ACC2263 Gather got 3 tensors in 'outputs'",
            ["gatherinto-missing"] = "ACC2263 GatherInto got no 'output'",
            ["gatherinto-shape"] = "ACC2264 GatherInto: 'output' has shape [2, 6]",
            ["good-call-after-errors"] = "returned",
        };
        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, $"backend {backend}", job.Describe());
            var cases = rank.Output.Split('\n').Where(l => l.StartsWith("CASE ", StringComparison.Ordinal)).Select(l => l.TrimEnd('\r')).ToArray();
            Assert.HasCount(expected.Count, cases, job.Describe());
            foreach (var (name, outcome) in expected)
            {
                // "CASE name ACC2263 ACC2263: message", or "CASE name returned".
                var code = outcome.Split(' ')[0];
                var text = outcome.Contains(' ') ? $"{code}: {outcome[(code.Length + 1)..]}" : "";
                Assert.IsTrue(cases.Any(l => l.StartsWith($"CASE {name} {code}", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal)), $"{name}: expected '{outcome}'\n{job.Describe()}");
            }
        }
    }

    /// <summary>Cases the gather-into scenario checks on rank <paramref name="rank"/> of <paramref name="worldSize"/>, counted from its loops.</summary>
    private static int ExpectedCases(int rank, int worldSize)
    {
        const int DTypes = 10, Sizes = 4;
        var p = worldSize;
        var last = p - 1;
        var perSize = 2 * p                       // AllGather(outputs), twice into the same outputs
            + 1                                   // AllGatherInto
            + (rank == last ? 1 : 0)              // GatherInto to the last rank
            + (rank == 0 ? p : 1);                // Gather(outputs) to rank 0: the blocks there, untouched outputs elsewhere
        const int shapes = 1 + 1 + 1 + 2;         // stacked, transposed input, scalars, in place (two sizes)
        return DTypes * Sizes * perSize + shapes + (rank == last ? 1 : 0);
    }

    private static void AssertEveryCasePassed(RankProcesses job, int worldSize, string backend)
    {
        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            var joined = JoinedLine().Match(rank.Output);
            Assert.IsTrue(joined.Success, job.Describe());
            Assert.AreEqual(backend, joined.Groups[2].Value, job.Describe());
            var expected = ExpectedCases(int.Parse(joined.Groups[1].Value), worldSize);
            StringAssert.Contains(rank.Output, $"PASS {expected} cases", job.Describe());
        }
    }

    [GeneratedRegex(@"joined rank (\d+) of \d+ backend (\S+)\r?$", RegexOptions.Multiline)]
    private static partial Regex JoinedLine();

    [GeneratedRegex(@"\bPASS (\d+) cases\r?$", RegexOptions.Multiline)]
    private static partial Regex PassLine();
}
