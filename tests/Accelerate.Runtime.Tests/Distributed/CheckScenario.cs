using System.Text.RegularExpressions;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// What the CollectivesWorker "check" scenario must report: every rank prints PASS with the number of
/// cases it compared with the serial reference, and that number is counted here independently, so a
/// worker whose loops ran no case (or fewer) does not pass.
/// </summary>
internal static partial class CheckScenario
{
    private const int DTypes = 6;   // float32, float64, bfloat16, float16, int32, int64
    private const int Reductions = 5; // Sum, Average, Min, Max, Product

    /// <summary>Cases rank <paramref name="rank"/> of <paramref name="worldSize"/> checks.</summary>
    public static int ExpectedCases(int rank, int worldSize)
    {
        var p = worldSize;
        var allReduce = DTypes * Reductions * 7 + 1;                           // seven sizes, plus a transposed view
        var broadcast = DTypes * 2 * p;                                        // two sizes from every source
        var allGather = DTypes * (1 + p + (rank == p - 1 ? p : 1)) + 1;       // count, blocks, gather (or null), plus scalars
        var reduceScatter = DTypes * Reductions * 2;                           // result and untouched input
        const int objectsSpansAndRing = 2 + 3 + 1;
        const int largeDTypes = 3;                                             // float32, bfloat16, int64 past a shared-memory slot
        var large = largeDTypes * (p + (rank == 1 ? p : 1) + 1 + Reductions);  // all-gather blocks, gather to rank 1, broadcast, reduce-scatters
        return allReduce + broadcast + allGather + reduceScatter + objectsSpansAndRing + large;
    }

    /// <summary>
    /// Asserts that <paramref name="output"/> (of one rank, or of every rank as mpirun prints it) shows
    /// <paramref name="ranks"/> ranks joined with <paramref name="backend"/>, each passing all of its cases,
    /// and that the collectives took that backend's transport: with <c>shm</c> not one byte over TCP, with
    /// <c>tcp</c> and <c>shm+tcp</c> some.
    /// </summary>
    public static void AssertEveryCasePassed(string output, string backend, int ranks, string describe)
    {
        var joined = JoinedLine().Matches(output).Select(m => (Rank: int.Parse(m.Groups[1].Value), WorldSize: int.Parse(m.Groups[2].Value), Backend: m.Groups[3].Value)).ToList();
        Assert.HasCount(ranks, joined, describe);
        Assert.IsTrue(joined.All(j => j.Backend == backend), $"every rank uses backend {backend}\n{describe}");
        var expected = joined.Select(j => ExpectedCases(j.Rank, j.WorldSize)).Order().ToList();
        var passed = PassLine().Matches(output).Select(m => int.Parse(m.Groups[1].Value)).Order().ToList();
        CollectionAssert.AreEqual(expected, passed, $"cases checked per rank: expected {string.Join(", ", expected)}\n{describe}");
        var tcpBytes = TcpBytesLine().Matches(output).Select(m => long.Parse(m.Groups[1].Value)).ToList();
        Assert.HasCount(ranks, tcpBytes, describe);
        if (backend == "shm") Assert.IsTrue(tcpBytes.All(b => b == 0), $"with shm on one machine, no collective goes over TCP\n{describe}");
        if (backend is "tcp" or "shm+tcp") Assert.IsTrue(tcpBytes.All(b => b > 0), $"with {backend}, collectives go over TCP\n{describe}");
    }

    /// <summary>Bytes each rank read straight from its peers' memory (the single-copy path of large shared-memory blocks).</summary>
    public static long[] SingleCopyBytes(string output) => SingleCopyLine().Matches(output).Select(m => long.Parse(m.Groups[1].Value)).ToArray();

    [GeneratedRegex(@"^SINGLE COPY BYTES (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex SingleCopyLine();

    [GeneratedRegex(@"^TCP BYTES (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex TcpBytesLine();

    [GeneratedRegex(@"joined rank (\d+) of (\d+) backend (\S+)\r?$", RegexOptions.Multiline)]
    private static partial Regex JoinedLine();

    [GeneratedRegex(@"\bPASS (\d+) cases\r?$", RegexOptions.Multiline)]
    private static partial Regex PassLine();
}
