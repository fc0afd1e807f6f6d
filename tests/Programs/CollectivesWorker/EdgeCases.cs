using Accelerate;
using Accelerate.Distributed;
using TorchSharp;

/// <summary>
/// The "edges" scenario: inputs at the edges of what the collectives handle, each compared with a reference every
/// rank computes itself from every rank's input (each rank's data is a function of its rank). Sizes sit one element
/// either side of every threshold the transports switch at (inline signal line, small shared-memory all-reduce,
/// single-copy block, TCP combine segment, recursive-doubling/ring switch, scratch segment, shared-memory slot), in
/// every dtype and reduction; views that are strided, offset into their storage or expanded; 0-dim and empty
/// tensors; NaN in Min and Max; inputs a collective cannot take end in a named error on every rank.
/// Prints <c>PASS n cases</c> or the cases that differ and <c>FAIL</c>.
/// </summary>
internal static class EdgeCases
{
    private static readonly torch.ScalarType[] Numeric =
    [
        torch.ScalarType.Float32, torch.ScalarType.Float64, torch.ScalarType.BFloat16, torch.ScalarType.Float16,
        torch.ScalarType.Int64, torch.ScalarType.Int32, torch.ScalarType.Int16, torch.ScalarType.Int8, torch.ScalarType.Byte,
    ];

    private static readonly torch.ScalarType[] Every = [.. Numeric, torch.ScalarType.Bool];

    /// <summary>Bytes at which a transport changes what it does: inline signal line, small shared-memory all-reduce, single-copy block, TCP combine segment, ring threshold, scratch segment, shared-memory slot.</summary>
    private static readonly long[] Thresholds = [16, 32 * 1024, 64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024];

    private static readonly CaseResults Results = new();

    private static void Expect(bool ok, string what) => Results.Expect(ok, what);

    public static int Run(ProcessGroup group)
    {
        var p = group.WorldSize;
        var r = group.Rank;
        var ops = Enum.GetValues<ReduceOp>();

        // All-reduce: one element either side of every threshold, every dtype and reduction.
        foreach (var dtype in Numeric)
        foreach (var elements in Around(dtype))
        foreach (var op in ops)
        {
            using var scope = torch.NewDisposeScope();
            var tensor = Input(r, elements, dtype, op);
            group.AllReduce(tensor, op);
            Expect(Matches(tensor, Reduced(p, elements, dtype, op), dtype, op), $"AllReduce({op}) {dtype}[{elements}]");
        }

        // Reduce-scatter: chunks one element either side of the single-copy block and the slot, rows not divisible by the world size.
        foreach (var dtype in Numeric)
        foreach (var bytes in new long[] { 64 * 1024, 256 * 1024 })
        foreach (var delta in new long[] { -1, 1 })
        foreach (var op in ops)
        {
            using var scope = torch.NewDisposeScope();
            var rows = p * (bytes / Size(dtype)) + delta;
            var input = Input(r, rows, dtype, op);
            var before = input.clone();
            var part = group.ReduceScatter(input, op);
            var (start, length) = Chunk(rows, p, r);
            Expect(Matches(part, Reduced(p, rows, dtype, op).narrow(0, start, length), dtype, op) && input.SameAs(before), $"ReduceScatter({op}) {dtype}[{rows}]");
        }

        // Broadcast, all-gather and gather either side of the thresholds, every dtype (bool too), blocks one element apart per rank.
        foreach (var dtype in Every)
        foreach (var elements in Around(dtype))
        {
            using var scope = torch.NewDisposeScope();
            var source = (int)(elements % p);
            var tensor = Input(r, elements, dtype, ReduceOp.Sum);
            group.Broadcast(tensor, source);
            Expect(tensor.SameAs(Input(source, elements, dtype, ReduceOp.Sum)), $"Broadcast {dtype}[{elements}] from {source}");

            long Mine(int rank) => Math.Max(0, elements + rank - 1);
            var all = group.AllGather(Input(r, Mine(r), dtype, ReduceOp.Sum));
            Expect(all.Length == p && all.Select((t, q) => t.SameAs(Input(q, Mine(q), dtype, ReduceOp.Sum))).All(x => x), $"AllGather {dtype}[{elements}±1]");
            var gathered = group.Gather(Input(r, Mine(r), dtype, ReduceOp.Sum), source);
            Expect(r == source ? gathered!.Select((t, q) => t.SameAs(Input(q, Mine(q), dtype, ReduceOp.Sum))).All(x => x) : gathered is null, $"Gather {dtype}[{elements}±1] to {source}");
        }

        Views(group);
        Shapes(group);
        NaNs(group);
        Averages(group);
        Expanded(group);

        return Results.Verdict(r);
    }

    /// <summary>
    /// The "past-int-counts" scenario: an all-gather and a gather whose blocks need counts past
    /// 2^31 - 1 (rank 0's block: <paramref name="bytes"/> bytes). The tensors are never written, so their pages are never
    /// committed. Prints <c>CASE name outcome</c> (the error code, or "returned") for each.
    /// </summary>
    public static int PastIntCounts(ProcessGroup group, long bytes)
    {
        CaseResults.PrintOutcomes(new (string, Action)[]
        {
            ("allgather", () => group.AllGather(torch.empty(group.Rank == 0 ? bytes : 16, torch.ScalarType.Byte))),
            ("gather", () => group.Gather(torch.empty(group.Rank == 0 ? bytes : 16, torch.ScalarType.Byte), group.WorldSize - 1)),
        });
        return 0;
    }

    /// <summary>Strided, offset and transposed views: the result lands in the view, and nothing around it changes.</summary>
    private static void Views(ProcessGroup group)
    {
        var p = group.WorldSize;
        var r = group.Rank;
        foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.Int8, torch.ScalarType.BFloat16 })
        foreach (var elements in new long[] { 5, 64 * 1024 / Size(dtype) + 1, 1024 * 1024 / Size(dtype) + 3 })
        {
            using var scope = torch.NewDisposeScope();
            // A view with a storage offset (contiguous, so used in place) between guard elements.
            var storage = Input(r + 100, elements + 6, dtype, ReduceOp.Sum);
            var guards = storage.clone();
            var offset = storage.narrow(0, 3, elements);
            offset.copy_(Input(r, elements, dtype, ReduceOp.Sum));
            group.AllReduce(offset, ReduceOp.Sum);
            Expect(offset.SameAs(Reduced(p, elements, dtype, ReduceOp.Sum)) && Guarded(storage, guards, 3, elements), $"AllReduce of an offset view {dtype}[{elements}]");

            var source = p - 1;
            offset.copy_(Input(r, elements, dtype, ReduceOp.Sum));
            group.Broadcast(offset, source);
            Expect(offset.SameAs(Input(source, elements, dtype, ReduceOp.Sum)) && Guarded(storage, guards, 3, elements), $"Broadcast into an offset view {dtype}[{elements}]");

            offset.copy_(Input(r, elements, dtype, ReduceOp.Sum));
            var all = group.AllGather(offset);
            Expect(all.Select((t, q) => t.SameAs(Input(q, elements, dtype, ReduceOp.Sum))).All(x => x), $"AllGather of an offset view {dtype}[{elements}]");
            var gathered = group.Gather(offset, 0);
            Expect(r != 0 || gathered!.Select((t, q) => t.SameAs(Input(q, elements, dtype, ReduceOp.Sum))).All(x => x), $"Gather of an offset view {dtype}[{elements}]");

            // Every other element (a step of 2), and the rest untouched.
            var wide = Input(r + 100, 2 * elements, dtype, ReduceOp.Sum);
            var wideBefore = wide.clone();
            var strided = wide.slice(0, 0, 2 * elements, 2);
            strided.copy_(Input(r, elements, dtype, ReduceOp.Max));
            group.AllReduce(strided, ReduceOp.Max);
            Expect(strided.SameAs(Reduced(p, elements, dtype, ReduceOp.Max)) && wide.slice(0, 1, 2 * elements, 2).SameAs(wideBefore.slice(0, 1, 2 * elements, 2)), $"AllReduce(Max) of a strided view {dtype}[{elements}]");
            strided.copy_(Input(r, elements, dtype, ReduceOp.Sum));
            group.Broadcast(strided, 0);
            Expect(strided.SameAs(Input(0, elements, dtype, ReduceOp.Sum)) && wide.slice(0, 1, 2 * elements, 2).SameAs(wideBefore.slice(0, 1, 2 * elements, 2)), $"Broadcast into a strided view {dtype}[{elements}]");
            strided.copy_(Input(r, elements, dtype, ReduceOp.Sum));
            all = group.AllGather(strided);
            Expect(all.Select((t, q) => t.SameAs(Input(q, elements, dtype, ReduceOp.Sum))).All(x => x), $"AllGather of a strided view {dtype}[{elements}]");

            // Transposed 2-D: rows of the transposed view are the columns in memory.
            var matrix = Input(r, 2 * elements, dtype, ReduceOp.Sum).reshape(2, elements);
            var transposed = matrix.t();
            var part = group.ReduceScatter(transposed, ReduceOp.Sum);
            var (start, length) = Chunk(elements, p, r);
            Expect(part.SameAs(Reduced(p, 2 * elements, dtype, ReduceOp.Sum).reshape(2, elements).t().narrow(0, start, length)), $"ReduceScatter of a transposed view {dtype}[{elements}, 2]");
            var gatheredRows = group.AllGather(transposed);
            Expect(gatheredRows.Select((t, q) => t.SameAs(Input(q, 2 * elements, dtype, ReduceOp.Sum).reshape(2, elements).t())).All(x => x), $"AllGather of a transposed view {dtype}[{elements}, 2]");
        }

        // An expanded tensor (stride 0) is read like its copy.
        {
            using var scope = torch.NewDisposeScope();
            var expanded = torch.tensor(new float[] { r + 1 }).expand(70_000);
            var all = group.AllGather(expanded);
            Expect(all.Select((t, q) => t.eq(q + 1).all().item<bool>() && t.numel() == 70_000).All(x => x), "AllGather of an expanded tensor");
            var part = group.ReduceScatter(torch.tensor(new float[] { r + 1 }).expand(70_001), ReduceOp.Sum);
            Expect(part.eq(p * (p + 1) / 2f).all().item<bool>() && part.numel() == Chunk(70_001, p, r).Length, "ReduceScatter of an expanded tensor");
        }
    }

    /// <summary>0-dim, empty and 2-D shapes; spans of the small dtypes.</summary>
    private static void Shapes(ProcessGroup group)
    {
        var p = group.WorldSize;
        var r = group.Rank;
        using var scope = torch.NewDisposeScope();
        foreach (var dtype in Numeric)
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            var scalar = Input(r, 1, dtype, op).reshape();
            group.AllReduce(scalar, op);
            Expect(scalar.dim() == 0 && Matches(scalar, Reduced(p, 1, dtype, op).reshape(), dtype, op), $"AllReduce({op}) of a 0-dim {dtype}");
            foreach (var shape in new long[][] { [0], [0, 5], [5, 0] })
            {
                var empty = torch.empty(shape, dtype);
                group.AllReduce(empty, op);
                var part = group.ReduceScatter(empty, op);
                Expect(empty.shape.SequenceEqual(shape) && part.shape.SequenceEqual([Chunk(shape[0], p, r).Length, .. shape[1..]]), $"AllReduce/ReduceScatter({op}) of an empty {dtype}[{string.Join(", ", shape)}]");
            }
        }
        foreach (var dtype in Every)
        {
            var scalar = Input(r, 1, dtype, ReduceOp.Sum).reshape();
            group.Broadcast(scalar, p - 1);
            Expect(scalar.dim() == 0 && scalar.SameAs(Input(p - 1, 1, dtype, ReduceOp.Sum).reshape()), $"Broadcast of a 0-dim {dtype}");
            var gathered = group.Gather(Input(r, 1, dtype, ReduceOp.Sum).reshape(), p - 1);
            Expect(r != p - 1 || gathered!.Select((t, q) => t.dim() == 0 && t.SameAs(Input(q, 1, dtype, ReduceOp.Sum).reshape())).All(x => x), $"Gather of 0-dim {dtype}");
            var empty = torch.empty([0, 3], dtype);
            var all = group.AllGather(empty);
            Expect(all.All(t => t.shape.SequenceEqual([0L, 3L])), $"AllGather of an empty {dtype}");
        }

        Span<sbyte> int8 = [(sbyte)(r - 3), 100, -100];
        group.AllReduce(int8, ReduceOp.Min);
        Expect(int8[0] == -3 && int8[1] == 100 && int8[2] == -100, "AllReduce(Min) of an sbyte span");
        Span<byte> uint8 = [(byte)(r + 1), 200];
        group.AllReduce(uint8, ReduceOp.Max);
        Expect(uint8[0] == p && uint8[1] == 200, "AllReduce(Max) of a byte span");
        Span<short> int16 = [(short)(r + 1), -2];
        group.AllReduce(int16, ReduceOp.Product);
        Expect(int16[0] == Enumerable.Range(1, p).Aggregate(1, (a, b) => a * b) && int16[1] == (short)Math.Pow(-2, p), "AllReduce(Product) of a short span");
        Span<Half> half = [(Half)(r + 1), (Half)0.5];
        group.AllReduce(half, ReduceOp.Sum);
        Expect(half[0] == (Half)(p * (p + 1) / 2) && half[1] == (Half)(0.5 * p), "AllReduce(Sum) of a Half span");
        Span<bool> flags = [r == 0, true];
        group.Broadcast(flags, p - 1);
        Expect(flags[0] == (p == 1) && flags[1], "Broadcast of a bool span");
    }

    /// <summary>Min and Max propagate NaN, as torch.minimum and torch.maximum do, whatever rank holds it and whatever path the size takes.</summary>
    private static void NaNs(ProcessGroup group)
    {
        var p = group.WorldSize;
        var r = group.Rank;
        foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.Float64, torch.ScalarType.BFloat16, torch.ScalarType.Float16 })
        foreach (var elements in new long[] { 5, 100_003 })
        foreach (var op in new[] { ReduceOp.Min, ReduceOp.Max })
        {
            using var scope = torch.NewDisposeScope();
            // Rank q puts NaN at element q (and near the end): every rank must see NaN at positions 0..p-1.
            var tensor = Input(r, elements, dtype, op).to(torch.ScalarType.Float64);
            tensor[r].fill_(double.NaN);
            tensor[elements - 1 - r].fill_(double.NaN);
            tensor = tensor.to(dtype);
            group.AllReduce(tensor, op);
            var expected = Reduced(p, elements, dtype, op).to(torch.ScalarType.Float64);
            for (var q = 0; q < p; q++)
            {
                expected[q].fill_(double.NaN);
                expected[elements - 1 - q].fill_(double.NaN);
            }
            Expect(tensor.to(torch.ScalarType.Float64).allclose(expected, 0, 0, equal_nan: true), $"AllReduce({op}) of {dtype}[{elements}] with NaN");
        }
    }

    /// <summary>An average always fits the dtype, even where the sum does not: 100 and 101 in int8 average to 100, not to a wrapped sum halved.</summary>
    private static void Averages(ProcessGroup group)
    {
        var p = group.WorldSize;
        var r = group.Rank;
        foreach (var (dtype, large) in new (torch.ScalarType, double)[]
        {
            (torch.ScalarType.Int8, 100), (torch.ScalarType.Byte, 200), (torch.ScalarType.Int16, 30_000), (torch.ScalarType.Int32, 2_000_000_000),
            (torch.ScalarType.Float16, 60_000),
        })
        foreach (var elements in new long[] { 3, 300_001 })
        {
            using var scope = torch.NewDisposeScope();
            // Rank q holds large + q (fp16: large, exact there): the mean is large + (p - 1) / 2, truncated for integers.
            var offset = dtype == torch.ScalarType.Float16 ? 0 : r;
            var tensor = torch.full(elements, large + offset, torch.ScalarType.Float64).to(dtype);
            group.AllReduce(tensor, ReduceOp.Average);
            var mean = dtype == torch.ScalarType.Float16 ? large : large + Math.Truncate((p - 1) / 2.0);
            Expect(tensor.to(torch.ScalarType.Float64).eq(mean).all().item<bool>(), $"AllReduce(Average) of {dtype}[{elements}] near its largest value: {tensor[0].to(torch.ScalarType.Float64).item<double>()}, expected {mean}");

            var input = torch.full(elements, large + offset, torch.ScalarType.Float64).to(dtype);
            var part = group.ReduceScatter(input, ReduceOp.Average);
            Expect(part.numel() == Chunk(elements, p, r).Length && part.to(torch.ScalarType.Float64).eq(mean).all().item<bool>(), $"ReduceScatter(Average) of {dtype}[{elements}] near its largest value");
        }
        Span<sbyte> int8 = [(sbyte)(100 + r), (sbyte)(-100 - r)];
        group.AllReduce(int8, ReduceOp.Average);
        Expect(int8[0] == 100 + (p - 1) / 2 && int8[1] == -100 - (p - 1) / 2, $"AllReduce(Average) of an sbyte span near its largest value: {int8[0]}, {int8[1]}");
        Span<Half> half = [(Half)60_000, (Half)(-60_000)];
        group.AllReduce(half, ReduceOp.Average);
        Expect(half[0] == (Half)60_000 && half[1] == (Half)(-60_000), $"AllReduce(Average) of a Half span near its largest value: {half[0]}, {half[1]}");
    }

    /// <summary>A result cannot be written into an expanded tensor (its elements share memory): a named error on every rank, before any data moves.</summary>
    private static void Expanded(ProcessGroup group)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var elements in new long[] { 4, 70_000 })
        {
            var expanded = torch.ones(1).expand(elements);
            Expect(FailsWith("ACC2286", () => group.AllReduce(expanded)), $"AllReduce into an expanded tensor[{elements}] fails with ACC2286");
            Expect(FailsWith("ACC2286", () => group.Broadcast(expanded, 0)), $"Broadcast into an expanded tensor[{elements}] fails with ACC2286");
        }
        // A parameter stored transposed (a non-contiguous leaf that requires grad) takes results like any tensor.
        var parameter = torch.full(4, 3, group.Rank + 1f).t().requires_grad_(true);
        group.AllReduce(parameter, ReduceOp.Max);
        Expect(parameter.eq(group.WorldSize).all().item<bool>() && parameter.requires_grad, "AllReduce(Max) into a transposed parameter that requires grad");
        using (torch.no_grad()) parameter.fill_(group.Rank);
        group.Broadcast(parameter, 0);
        Expect(parameter.eq(0).all().item<bool>(), "Broadcast into a transposed parameter that requires grad");

        // The group still works.
        var after = torch.ones(3);
        group.AllReduce(after);
        Expect(after.eq(group.WorldSize).all().item<bool>(), "AllReduce after refused inputs");
    }

    private static bool FailsWith(string code, Action action)
    {
        try
        {
            action();
            return false;
        }
        catch (AccelerateException e)
        {
            if (e.Code != code) Console.Error.WriteLine($"expected {code}, got {e.Code}: {e.Message}");
            return e.Code == code;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"expected {code}, got {e.GetType().Name}: {e.Message}");
            return false;
        }
    }

    /// <summary>Element counts one either side of every threshold (and on it), for elements of <paramref name="dtype"/>.</summary>
    private static IEnumerable<long> Around(torch.ScalarType dtype) =>
        Thresholds.SelectMany(bytes => new[] { bytes / Size(dtype) - 1, bytes / Size(dtype), bytes / Size(dtype) + 1 }).Where(n => n > 0).Distinct();

    private static long Size(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        _ => 1,
    };

    /// <summary>Rank <paramref name="rank"/>'s input: small integers, exact in every dtype; for Product only -1, 1 and 2 (1 and 2 unsigned), so products stay small.</summary>
    private static torch.Tensor Input(int rank, long elements, torch.ScalarType dtype, ReduceOp op)
    {
        var i = torch.arange(elements, torch.ScalarType.Int64).mul_(7).add_(rank * 13L);
        var values = dtype == torch.ScalarType.Bool ? i.remainder_(3).eq(0)
            : op == ReduceOp.Product ? i.remainder_(3).sub_(dtype == torch.ScalarType.Byte ? -1 : 1).where(i.ne(0), torch.tensor(2L))
            : dtype == torch.ScalarType.Byte ? i.remainder_(11) : i.remainder_(11).sub_(5);
        return values.to(dtype);
    }

    /// <summary>Every rank's input reduced with <paramref name="op"/>, in <paramref name="dtype"/> (Average: the sum divided, truncated for integers).</summary>
    private static torch.Tensor Reduced(int worldSize, long elements, torch.ScalarType dtype, ReduceOp op)
    {
        var result = Input(0, elements, dtype, op);
        for (var q = 1; q < worldSize; q++)
        {
            var other = Input(q, elements, dtype, op);
            result = op switch
            {
                ReduceOp.Min => torch.minimum(result, other),
                ReduceOp.Max => torch.maximum(result, other),
                ReduceOp.Product => result.mul(other),
                _ => result.add(other),
            };
        }
        if (op != ReduceOp.Average) return result;
        return result.is_floating_point()
            ? result.to(torch.ScalarType.Float64).div(worldSize).to(dtype)
            : result.to(torch.ScalarType.Int64).div(worldSize, rounding_mode: torch.RoundingMode.trunc).to(dtype);
    }

    private static bool Matches(torch.Tensor actual, torch.Tensor expected, torch.ScalarType dtype, ReduceOp op)
    {
        if (!actual.shape.SequenceEqual(expected.shape) || actual.dtype != expected.dtype) return false;
        if (op != ReduceOp.Average || !actual.is_floating_point()) return actual.SameAs(expected);
        var tolerance = dtype is torch.ScalarType.BFloat16 or torch.ScalarType.Float16 ? 1e-2 : dtype == torch.ScalarType.Float32 ? 1e-6 : 1e-12;
        return actual.to(torch.ScalarType.Float64).allclose(expected.to(torch.ScalarType.Float64), tolerance, tolerance);
    }

    /// <summary>Same shape, dtype and elements.</summary>
    private static bool SameAs(this torch.Tensor actual, torch.Tensor expected) =>
        actual.shape.SequenceEqual(expected.shape) && actual.dtype == expected.dtype && (actual.numel() == 0 || actual.eq(expected).all().item<bool>());

    /// <summary>The elements of <paramref name="storage"/> outside [start, start + length) are as in <paramref name="before"/>.</summary>
    private static bool Guarded(torch.Tensor storage, torch.Tensor before, long start, long length) =>
        storage.narrow(0, 0, start).SameAs(before.narrow(0, 0, start)) &&
        storage.narrow(0, start + length, storage.shape[0] - start - length).SameAs(before.narrow(0, start + length, storage.shape[0] - start - length));

    /// <summary>Where rank <paramref name="rank"/>'s chunk of <paramref name="rows"/> starts and how many rows it has (the first rows % p chunks one more).</summary>
    private static (long Start, long Length) Chunk(long rows, int p, int rank)
    {
        var start = rows / p * rank + Math.Min(rank, rows % p);
        return (start, rows / p + (rank < rows % p ? 1 : 0));
    }
}
