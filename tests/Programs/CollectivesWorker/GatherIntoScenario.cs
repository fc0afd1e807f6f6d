using Accelerate;
using Accelerate.Distributed;
using TorchSharp;

/// <summary>
/// The gathers into the caller's tensors (<c>AllGather(outputs, input)</c>, <c>AllGatherInto</c>,
/// <c>Gather(input, outputs, destination)</c>, <c>GatherInto</c>). <c>gather-into</c>: every dtype, sizes from empty to past
/// a shared-memory slot, outputs filled with a sentinel first (so a block not written shows) and reused; prints
/// <c>PASS n cases</c> (the test counts n independently) or the mismatches. <c>gather-into-errors</c>: every bad output
/// on every rank at once (so no rank waits for another), then one good call; prints <c>CASE name outcome</c>.
/// </summary>
internal static class GatherIntoScenario
{
    private static readonly torch.ScalarType[] DTypes =
    [
        torch.ScalarType.Float32, torch.ScalarType.Float64, torch.ScalarType.BFloat16, torch.ScalarType.Float16, torch.ScalarType.Int32,
        torch.ScalarType.Int64, torch.ScalarType.Int16, torch.ScalarType.Int8, torch.ScalarType.Byte, torch.ScalarType.Bool,
    ];

    /// <summary>Elements per rank: none, inline in a signal line, through the slots, single copy and past a 1 MiB slot.</summary>
    private static readonly long[] Sizes = [0, 3, 1001, 300_001];

    public static int Run(ProcessGroup group)
    {
        var results = new CaseResults();
        var Expect = results.Expect;

        var p = group.WorldSize;
        var r = group.Rank;
        var last = p - 1;
        foreach (var dtype in DTypes)
        foreach (var n in Sizes)
        {
            using var scope = torch.NewDisposeScope();
            var input = Data(r, n, dtype);
            var outputs = Enumerable.Range(0, p).Select(_ => Sentinel([n], dtype)).ToArray();
            // Twice into the same outputs, as a training loop reuses them: the second time with other data.
            for (var round = 0; round < 2; round++)
            {
                var mine = round == 0 ? input : Data(r + p, n, dtype);
                group.AllGather(outputs, mine);
                for (var q = 0; q < p; q++)
                    Expect(Same(outputs[q], Data(q + round * p, n, dtype)), $"AllGather(outputs) {dtype}[{n}] round {round}, block {q}");
            }

            var output = Sentinel([p * n], dtype);
            group.AllGatherInto(output, input);
            Expect(Same(output, Concatenated(p, n, dtype)), $"AllGatherInto {dtype}[{n}]");

            var gathered = r == last ? Sentinel([p * n], dtype) : null;
            group.GatherInto(gathered, input, last);
            if (r == last) Expect(Same(gathered!, Concatenated(p, n, dtype)), $"GatherInto {dtype}[{n}] to {last}");

            // Ranks other than the destination may pass outputs too: they are left alone.
            var list = Enumerable.Range(0, p).Select(_ => Sentinel([n], dtype)).ToArray();
            group.Gather(input, list, 0);
            if (r == 0)
                for (var q = 0; q < p; q++) Expect(Same(list[q], Data(q, n, dtype)), $"Gather(outputs) {dtype}[{n}] to 0, block {q}");
            else Expect(list.All(t => Same(t, Sentinel([n], dtype))), $"Gather(outputs) {dtype}[{n}] leaves rank {r}'s outputs alone");
        }

        using (torch.NewDisposeScope())
        {
            // Shapes: stacked output, 2-D inputs, a non-contiguous input, a scalar, this rank's part of the output as input.
            var matrix = Data(r, 12, torch.ScalarType.Float32).reshape(4, 3);
            var stacked = Sentinel([p, 4, 3], torch.ScalarType.Float32);
            group.AllGatherInto(stacked, matrix);
            Expect(Same(stacked, Concatenated(p, 12, torch.ScalarType.Float32).reshape(p, 4, 3)), "AllGatherInto stacked [p, 4, 3]");

            var transposed = Data(r, 12, torch.ScalarType.Float32).reshape(3, 4).t();
            var rows = Sentinel([p * 4, 3], torch.ScalarType.Float32);
            group.AllGatherInto(rows, transposed);
            using (var expected = torch.cat(Enumerable.Range(0, p).Select(q => Data(q, 12, torch.ScalarType.Float32).reshape(3, 4).t()).ToArray(), 0))
                Expect(Same(rows, expected), "AllGatherInto of a transposed input");

            var scalars = Sentinel([p], torch.ScalarType.Float64);
            group.AllGatherInto(scalars, torch.tensor(r * 10.0));
            Expect(Same(scalars, torch.arange(0, p * 10, 10, torch.ScalarType.Float64)), "AllGatherInto of scalars");

            foreach (var n in new long[] { 5, 300_001 })
            {
                var inPlace = Sentinel([p * n], torch.ScalarType.Float32);
                inPlace.narrow(0, r * n, n).copy_(Data(r, n, torch.ScalarType.Float32));
                group.AllGatherInto(inPlace, inPlace.narrow(0, r * n, n));
                Expect(Same(inPlace, Concatenated(p, n, torch.ScalarType.Float32)), $"AllGatherInto in place, {n} elements");
            }

            var atLast = r == last ? Sentinel([p * 4, 3], torch.ScalarType.Float32) : null;
            group.GatherInto(atLast, matrix, last);
            if (r == last) Expect(Same(atLast!, Concatenated(p, 12, torch.ScalarType.Float32).reshape(p * 4, 3)), "GatherInto of 2-D inputs");
        }

        return results.Verdict(r);
    }

    public static int Errors(ProcessGroup group)
    {
        var p = group.WorldSize;
        var me = group.Rank;
        using var input = torch.ones(2, 3);
        torch.Tensor[] Like(int count) => Enumerable.Range(0, count).Select(_ => torch.empty_like(input)).ToArray();
        // Gathers check outputs on the destination only: every rank names itself, so every rank fails alike.
        var cases = new (string Name, Action Run)[]
        {
            ("allgather-count", () => group.AllGather(Like(p - 1), input)),
            ("allgather-null", () => group.AllGather([.. Like(p - 1), null!], input)),
            ("allgather-shape", () => group.AllGather([.. Like(p - 1), torch.empty(3, 2)], input)),
            ("allgather-dtype", () => group.AllGather([.. Like(p - 1), torch.empty(2, 3, torch.ScalarType.Float64)], input)),
            ("allgather-noncontiguous", () => group.AllGather([.. Like(p - 1), torch.empty(3, 2).t()], input)),
            ("allgatherinto-shape", () => group.AllGatherInto(torch.empty(p * 2 + 1, 3), input)),
            ("allgatherinto-dtype", () => group.AllGatherInto(torch.empty(p * 2, 3, torch.ScalarType.Int64), input)),
            ("allgatherinto-noncontiguous", () => group.AllGatherInto(torch.empty(3, p * 2).t(), input)),
            ("gather-missing", () => group.Gather(input, null, me)),
            ("gather-count", () => group.Gather(input, Like(p + 1), me)),
            ("gatherinto-missing", () => group.GatherInto(null, input, me)),
            ("gatherinto-shape", () => group.GatherInto(torch.empty(2, 3 * p), input, me)),
            ("good-call-after-errors", () =>
            {
                using var output = torch.empty(p * 2, 3);
                group.AllGatherInto(output, input);
                if (!Same(output, torch.ones(p * 2, 3))) throw new InvalidOperationException("wrong result");
            }),
        };
        CaseResults.PrintOutcomes(cases);
        return 0;
    }

    /// <summary>Small integers, exact in every dtype (0/1 as bool), different per rank and element.</summary>
    private static torch.Tensor Data(int rank, long n, torch.ScalarType dtype) =>
        torch.arange(n, torch.ScalarType.Int64).mul_(3).add_(rank * 7 + 1).remainder_(13).to(dtype);

    /// <summary>Same shape, dtype and elements.</summary>
    private static bool Same(torch.Tensor actual, torch.Tensor expected) =>
        actual.dtype == expected.dtype && actual.shape.SequenceEqual(expected.shape) && actual.eq(expected).all().item<bool>();

    private static torch.Tensor Concatenated(int ranks, long n, torch.ScalarType dtype) =>
        torch.cat(Enumerable.Range(0, ranks).Select(q => Data(q, n, dtype)).ToArray(), 0);

    /// <summary>What outputs hold before a gather: a value no rank sends (false for bool, where most data is true).</summary>
    private static torch.Tensor Sentinel(long[] shape, torch.ScalarType dtype) => torch.full(shape, dtype == torch.ScalarType.Bool ? 0 : 99, dtype);
}
