using System.Diagnostics;
using Accelerate;
using Accelerate.Distributed;
using Accelerate.Native;
using TorchSharp;

// One rank of a collectives scenario. Usage: CollectivesWorker <scenario> [arguments]
//   check             every collective, dtype and reduction against a serial reference
//   join              join the group, print the backend and the CPUs this rank may run on ("cpus 0-3"), leave
//   stall <rank> [n] [collective]
//                     all-reduce (or allgather, gather, reducescatter, broadcast) n floats in a loop; <rank> stops
//                     calling collectives (the test kills it)
//   freeze <rank>     like stall (all-reduce), but <rank> stops itself with SIGSTOP (the test kills it)
//   quiet-pool        1 MB all-reduces; prints the thread-pool work items run meanwhile (QuietThreadPool.cs)
//   mismatch          rank 0 all-reduces while the others wait at a barrier (run with ACCELERATE_DEBUG_MODE=true)
//   mismatch-shape    rank 0 all-reduces a 4x3 tensor, the others a 3x4 one
//   mismatch-matrix <half|last> [mpi [directory]]
//                     every collective with a size, dtype or operation that differs on the upper half
//                     of the ranks (or the last one), each in a fresh group; prints CASE <name> <outcome>
//                     ("mpi": the program initializes MPI itself, so that the groups can come and go;
//                     with a directory, each rank also writes its lines to rank.<n> there)
//   large <bytes>     all-reduce and broadcast of a float32 tensor of that many bytes (past 2 GiB)
//   bench <bytes...>  all-reduce timing for float32 buffers of the given sizes
//   allreduce-once    one all-reduce of one number, checked (what bench/launch times a launch to)
//   allocations       managed bytes allocated per all-reduce of a small tensor and span, after a warm-up
//   bench-ops <op[,op...]> <bytes...>
//                     allgather, gather, reducescatter, broadcast, allreduce timing (CollectivesBench.cs)
//   edges             inputs at the edges: sizes either side of every transport threshold in every dtype and reduction,
//                     strided, offset and expanded views, 0-dim and empty tensors, NaN (EdgeCases.cs)
//   past-int-counts <bytes>
//                     an all-gather and a gather with blocks past 32-bit counts, never written (EdgeCases.cs)
//   children          before and after joining, start a child (managed and through libc's system()) that says whether it sees ACCELERATE_LAUNCH_SECRET
//   gather-into       the gathers into caller tensors, every dtype and size, against the expected blocks (GatherIntoScenario.cs)
//   gather-into-errors
//                     every bad output of those gathers, on every rank at once; prints CASE <name> <outcome>
var scenario = args.Length > 0 ? args[0] : "check";
try
{
    LibTorchLoader.EnsureLoaded();
    if (scenario == "children") Scenarios.Children("before");
    if (scenario == "mismatch-matrix") return MismatchMatrix.Run(args[1] == "half", args.Length > 2 && args[2] == "mpi", args.Length > 3 ? args[3] : null);
    var group = DistributedState.Initialize() ?? throw new InvalidOperationException("not launched as several ranks");
    Console.WriteLine($"joined rank {group.Rank} of {group.WorldSize} backend {group.Backend}");
    var code = scenario switch
    {
        "check" => Scenarios.Check(group),
        "join" => Scenarios.Join(),
        "children" => Scenarios.Children("after"),
        "stall" => Scenarios.Stall(group, int.Parse(args[1]), args.Length > 2 ? long.Parse(args[2]) : 16, args.Length > 3 ? args[3] : "allreduce"),
        "freeze" => Scenarios.Stall(group, int.Parse(args[1]), 16, "allreduce", freeze: true),
        "mismatch" => Scenarios.Mismatch(group),
        "mismatch-shape" => Scenarios.MismatchShape(group),
        "bench" => Scenarios.Bench(group, args.Skip(1).Select(long.Parse).ToArray()),
        "bench-ops" => CollectivesBench.Run(group, args[1].Split(','), args.Skip(2).Select(long.Parse).ToArray()),
        "latency" => Scenarios.Latency(group),
        "allreduce-once" => Scenarios.AllReduceOnce(group),
        "allocations" => Scenarios.Allocations(group),
        "large" => Scenarios.Large(group, long.Parse(args[1])),
        "edges" => EdgeCases.Run(group),
        "past-int-counts" => EdgeCases.PastIntCounts(group, long.Parse(args[1])),
        "quiet-pool" => QuietThreadPool.Run(group),
        "gather-into" => GatherIntoScenario.Run(group),
        "gather-into-errors" => GatherIntoScenario.Errors(group),
        _ => throw new ArgumentException($"unknown scenario {scenario}"),
    };
    DistributedState.Shutdown();
    return code;
}
catch (AccelerateException e)
{
    Console.Error.WriteLine($"FAILED {e.Message}"); if (Environment.GetEnvironmentVariable("WORKER_STACK") == "1") Console.Error.WriteLine(e);
    return 3;
}

internal static class Scenarios
{
    /// <summary>Prints "{when} own=… managed-child=… native-child=…", each yes when that process sees the secret.</summary>
    public static int Children(string when)
    {
        const string Check = "if [ -n \"$ACCELERATE_LAUNCH_SECRET\" ]; then echo yes; else echo no; fi";
        var own = Environment.GetEnvironmentVariable("ACCELERATE_LAUNCH_SECRET") is null ? "no" : "yes";
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, ArgumentList = { "-c", Check } };
        using var managed = Process.Start(start)!;
        var managedChild = managed.StandardOutput.ReadToEnd().Trim();
        managed.WaitForExit();
        var output = Path.GetTempFileName();
        try
        {
            RunThroughLibc(Check + " > " + output);
            Console.WriteLine($"{when} own={own} managed-child={managedChild} native-child={File.ReadAllText(output).Trim()}");
        }
        finally
        {
            File.Delete(output);
        }
        return 0;
    }

    // libc's system(): a child started by native code, from the C library's environment rather than .NET's.
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "system")]
    private static extern int RunThroughLibc([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string command);

    public static int Stall(ProcessGroup group, int stalled, long elements, string collective, bool freeze = false)
    {
        using var tensor = torch.ones(elements);
        Action run = collective switch
        {
            "allreduce" => () => group.AllReduce(tensor),
            "allgather" => () => group.AllGather(tensor),
            "gather" => () => group.Gather(tensor, group.WorldSize - 1),
            "reducescatter" => () => group.ReduceScatter(tensor),
            "broadcast" => () => group.Broadcast(tensor, group.WorldSize - 1),
            _ => throw new ArgumentException($"unknown collective {collective}"),
        };
        for (var i = 0; ; i++)
        {
            if (group.Rank == stalled && i == 3)
            {
                Console.WriteLine("STALLING");
                if (freeze) Kill(Environment.ProcessId, 19); // SIGSTOP: every thread stops, as under a debugger
                Thread.Sleep(Timeout.Infinite); // stands for a rank that hangs; the test kills it
            }
            run();
            tensor.fill_(1);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public static int Mismatch(ProcessGroup group)
    {
        using var tensor = torch.ones(4, 3);
        if (group.Rank == 0) group.AllReduce(tensor);
        else group.Barrier();
        Console.WriteLine("NO ERROR");
        return 0;
    }

    /// <summary>The first collective of a job: every rank adds rank + 1; prints the sum, exits 4 when it is wrong.</summary>
    public static int AllReduceOnce(ProcessGroup group)
    {
        Span<float> value = [group.Rank + 1];
        group.AllReduce(value);
        var expected = group.WorldSize * (group.WorldSize + 1) / 2;
        Console.WriteLine($"first all-reduce rank {group.Rank} sum {value[0]} expected {expected}");
        return value[0] == expected ? 0 : 4;
    }

    public static int Latency(ProcessGroup group)
    {
        var values = new float[1];
        using var tensor = torch.ones(1);
        foreach (var (name, action) in new (string, Action)[] { ("barrier", group.Barrier), ("span", () => group.AllReduce(values.AsSpan())), ("tensor", () => group.AllReduce(tensor)) })
        {
            for (var i = 0; i < 1000; i++) action();
            var times = new double[20000];
            var microseconds = 1e6 / Stopwatch.Frequency;
            var clock = Stopwatch.GetTimestamp();
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < times.Length; i++)
            {
                var start = Stopwatch.GetTimestamp();
                action();
                times[i] = (Stopwatch.GetTimestamp() - start) * microseconds;
            }
            var mean = (Stopwatch.GetTimestamp() - clock) * microseconds / times.Length;
            allocated = (GC.GetAllocatedBytesForCurrentThread() - allocated) / times.Length;
            Array.Sort(times);
            if (group.Rank == 0)
                Console.WriteLine($"{name} mean {mean:F2} us, median {times[times.Length / 2]:F3}, p10 {times[times.Length / 10]:F3}, p90 {times[times.Length * 9 / 10]:F2}, p99 {times[times.Length * 99 / 100]:F2}, allocated {allocated} B/call");
        }
        return 0;
    }

    /// <summary>All-reduce and broadcast of one tensor past 2 GiB, checked in slices (a full-size comparison would double the memory).</summary>
    public static int Large(ProcessGroup group, long bytes)
    {
        var elements = bytes / sizeof(float);
        var p = group.WorldSize;
        var failures = new List<string>();
        using var tensor = torch.empty(elements);
        Pattern(tensor, group.Rank, 1);
        group.AllReduce(tensor);
        failures.AddRange(Differences(tensor, "AllReduce(Sum)", p, p * (p - 1) / 2));

        var source = p - 1;
        if (group.Rank == source) Pattern(tensor, source, 1);
        else tensor.zero_();
        group.Broadcast(tensor, source);
        failures.AddRange(Differences(tensor, $"Broadcast(source={source})", 1, source));

        foreach (var failure in failures) Console.Error.WriteLine($"MISMATCH rank {group.Rank}: {failure}");
        Console.WriteLine(failures.Count == 0 ? $"PASS {elements} elements" : $"FAIL {failures.Count} slices");
        return failures.Count == 0 ? 0 : 1;
    }

    private const long PatternSlice = 1L << 24;

    /// <summary>Element i = scale * (i % 251) + offset: exact in float32, and a slice in the wrong place shows.</summary>
    private static void Pattern(torch.Tensor tensor, long offset, long scale)
    {
        for (long start = 0; start < tensor.numel(); start += PatternSlice)
        {
            using var scope = torch.NewDisposeScope();
            var length = Math.Min(PatternSlice, tensor.numel() - start);
            tensor.narrow(0, start, length).copy_(Expected(start, length, scale, offset));
        }
    }

    private static IEnumerable<string> Differences(torch.Tensor tensor, string what, long scale, long offset)
    {
        for (long start = 0; start < tensor.numel(); start += PatternSlice)
        {
            bool equal;
            using (torch.NewDisposeScope())
            {
                var length = Math.Min(PatternSlice, tensor.numel() - start);
                equal = tensor.narrow(0, start, length).eq(Expected(start, length, scale, offset)).all().item<bool>();
            }
            if (!equal) yield return $"{what}: elements {start}..{start + PatternSlice} differ from the expected values";
        }
    }

    /// <summary>The slice's expected values (call within a dispose scope: the intermediates are as large as the slice).</summary>
    private static torch.Tensor Expected(long start, long length, long scale, long offset) =>
        torch.arange(start, start + length, torch.ScalarType.Int64).remainder_(251).mul_(scale).add_(offset).to(torch.ScalarType.Float32);

    public static int MismatchShape(ProcessGroup group)
    {
        using var tensor = group.Rank == 0 ? torch.ones(4, 3) : torch.ones(3, 4);
        group.AllReduce(tensor);
        Console.WriteLine("NO ERROR");
        return 0;
    }

    public static int Join()
    {
        Console.WriteLine($"cpus {File.ReadLines("/proc/self/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim()}");
        return 0;
    }

    /// <summary>Prints "ALLOCATED tensor|span BYTES", the managed bytes one small all-reduce allocates (a training step runs many).</summary>
    public static int Allocations(ProcessGroup group)
    {
        using var tensor = torch.zeros(4);
        var values = new float[4];
        foreach (var (name, action) in new (string, Action)[] { ("tensor", () => group.AllReduce(tensor)), ("span", () => group.AllReduce(values.AsSpan())) })
        {
            for (var i = 0; i < 100; i++) action();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++) action();
            Console.WriteLine($"ALLOCATED {name} {(GC.GetAllocatedBytesForCurrentThread() - before) / 1000}");
        }
        return 0;
    }

    public static int Bench(ProcessGroup group, long[] sizes)
    {
        foreach (var bytes in sizes)
        {
            using var tensor = torch.ones(Math.Max(1, bytes / 4));
            var iterations = (int)Math.Clamp(2_000_000_000L / Math.Max(bytes, 4096) / 40, 5, 2000);
            for (var i = 0; i < Math.Min(10, iterations); i++) group.AllReduce(tensor);
            group.Barrier();
            var times = new double[iterations];
            // Raw timestamps (nanoseconds on Linux), like MPI_Wtime: Stopwatch.Elapsed and TimeSpan round to 100 ns.
            var microseconds = 1e6 / Stopwatch.Frequency;
            var clock = Stopwatch.GetTimestamp();
            for (var i = 0; i < iterations; i++)
            {
                var start = Stopwatch.GetTimestamp();
                group.AllReduce(tensor);
                times[i] = (Stopwatch.GetTimestamp() - start) * microseconds;
            }
            group.Barrier();
            var seconds = (Stopwatch.GetTimestamp() - clock) / (double)Stopwatch.Frequency / iterations;
            Array.Sort(times);
            if (group.Rank == 0) Console.WriteLine($"BENCHROW {bytes} {seconds * 1e6:F2} {times[iterations / 2]:F2}");
        }
        return 0;
    }

    public static int Check(ProcessGroup group)
    {
        var results = new CaseResults();
        var Expect = results.Expect;

        var p = group.WorldSize;
        var r = group.Rank;
        // Bytes sent over TCP from here on: none when every collective went through shared memory.
        var tcpBefore = Accelerate.Distributed.Tcp.PeerLink.PayloadBytesSent;
        // Bytes read straight from peers' memory (the single-copy path of large shared-memory blocks).
        var readBefore = Accelerate.Distributed.SharedMemory.ProcessMemory.BytesRead;
        var dtypes = new[] { torch.ScalarType.Float32, torch.ScalarType.Float64, torch.ScalarType.BFloat16, torch.ScalarType.Float16, torch.ScalarType.Int32, torch.ScalarType.Int64 };
        var ops = Enum.GetValues<ReduceOp>();

        // All-reduce: every dtype and op, sizes that are empty, smaller than the world, not divisible by it, and past the ring threshold;
        // 65,537 and 98,305 elements cut TCP's 128 KiB combine segments and 256 KiB ring threshold off their boundaries in every dtype.
        foreach (var dtype in dtypes)
        foreach (var op in ops)
        foreach (var n in new long[] { 0, 1, 7, 1001, 70_001, 65_537, 98_305 })
        {
            using var tensor = Data(r, n, dtype, op);
            group.AllReduce(tensor, op);
            var expected = Reference(p, n, dtype, op);
            Expect(Close(tensor, expected, dtype), $"AllReduce({op}) {dtype}[{n}]: {Diff(tensor, expected)}");
        }

        // A non-contiguous view and a 2-D shape.
        {
            using var matrix = Data(r, 12, torch.ScalarType.Float32, ReduceOp.Sum).reshape(3, 4);
            var view = matrix.t();
            group.AllReduce(view, ReduceOp.Max);
            using var expected = torch.tensor(Reference(p, 12, torch.ScalarType.Float32, ReduceOp.Max)).reshape(3, 4).t();
            Expect(Close(view, expected.to(torch.ScalarType.Float64).data<double>().ToArray(), torch.ScalarType.Float32), "AllReduce(Max) of a transposed view");
        }

        // Broadcast from every source.
        foreach (var dtype in dtypes)
        foreach (var n in new long[] { 0, 1001 })
        for (var source = 0; source < p; source++)
        {
            using var tensor = Data(r, n, dtype, ReduceOp.Sum);
            group.Broadcast(tensor, source);
            Expect(Close(tensor, Values(source, n, ReduceOp.Sum), dtype), $"Broadcast {dtype}[{n}] from {source}");
        }

        // All-gather and gather with a different number of rows per rank (rank 1 has none).
        foreach (var dtype in dtypes)
        {
            using var mine = Data(r, Rows(r) * 3, dtype, ReduceOp.Sum).reshape(Rows(r), 3);
            var all = group.AllGather(mine);
            Expect(all.Length == p, "AllGather count");
            for (var q = 0; q < p; q++)
                Expect(all[q].shape.SequenceEqual(new[] { Rows(q), 3L }) && Close(all[q], Values(q, Rows(q) * 3, ReduceOp.Sum), dtype), $"AllGather {dtype} block {q}");
            var destination = p - 1;
            var gathered = group.Gather(mine, destination);
            if (r == destination)
                for (var q = 0; q < p; q++)
                    Expect(gathered![q].shape.SequenceEqual(new[] { Rows(q), 3L }) && Close(gathered[q], Values(q, Rows(q) * 3, ReduceOp.Sum), dtype), $"Gather {dtype} block {q}");
            else Expect(gathered is null, "Gather returns null away from the destination");
        }

        // A scalar all-gather.
        {
            using var scalar = torch.tensor((double)r * 10);
            var all = group.AllGather(scalar);
            Expect(all.Select((t, q) => t.dim() == 0 && t.item<double>() == q * 10).All(x => x), "AllGather of scalars");
        }

        // Reduce-scatter with rows not divisible by the world size.
        foreach (var dtype in dtypes)
        foreach (var op in ops)
        {
            var rows = 2L * p + 1;
            using var input = Data(r, rows * 3, dtype, op).reshape(rows, 3);
            using var before = input.clone();
            using var part = group.ReduceScatter(input, op);
            var full = Reference(p, rows * 3, dtype, op);
            var start = Enumerable.Range(0, r).Sum(q => RowsOf(rows, p, q));
            var mineRows = RowsOf(rows, p, r);
            Expect(part.shape.SequenceEqual(new[] { mineRows, 3L }) && Close(part, full.Skip((int)start * 3).Take((int)mineRows * 3).ToArray(), dtype),
                $"ReduceScatter({op}) {dtype}: {Diff(part, full.Skip((int)start * 3).Take((int)mineRows * 3).ToArray())}");
            Expect(input.eq(before).all().item<bool>(), $"ReduceScatter leaves its input unchanged ({dtype})");
        }

        group.Barrier();

        // Objects.
        var greeting = group.BroadcastObject(r == p - 1 ? new Payload($"from {r}", [r, r + 1]) : null, p - 1);
        Expect(greeting is { Text: var text, Numbers: var numbers } && text == $"from {p - 1}" && numbers.SequenceEqual(new[] { p - 1, p }), "BroadcastObject");
        var names = group.AllGatherObject(new string('x', r * 1000) + r);
        Expect(names.Select((s, q) => s == new string('x', q * 1000) + q).All(x => x), "AllGatherObject of different lengths");

        // Spans.
        var floats = Enumerable.Range(0, 1003).Select(i => (float)(i + r)).ToArray();
        group.AllReduce(floats.AsSpan(), ReduceOp.Sum);
        Expect(floats.Select((v, i) => v == p * i + p * (p - 1) / 2).All(x => x), "AllReduce of a float span");
        var longs = Enumerable.Range(0, 17).Select(i => (long)(i * 100 + r)).ToArray();
        group.Broadcast(longs.AsSpan(), 1 % p);
        Expect(longs.Select((v, i) => v == i * 100 + 1 % p).All(x => x), "Broadcast of a long span");
        var ints = group.AllGather<int>(Enumerable.Range(0, r + 1).ToArray());
        Expect(ints.Select((a, q) => a.SequenceEqual(Enumerable.Range(0, q + 1))).All(x => x), "AllGather of int spans of different lengths");

        // A large ring all-reduce.
        {
            using var big = torch.full(3_000_001, (float)(r + 1));
            group.AllReduce(big, ReduceOp.Average);
            Expect(big.eq((p + 1) / 2f).all().item<bool>(), "AllReduce(Average) of 3,000,001 floats");
        }

        // Blocks past the 1 MiB shared-memory slot (pieces), uneven per rank, every element size, roots other than 0.
        foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.BFloat16, torch.ScalarType.Int64 })
        {
            const long Width = 2000;
            using var mine = Data(r, LargeRows(r) * Width, dtype, ReduceOp.Sum).reshape(LargeRows(r), Width);
            var all = group.AllGather(mine);
            for (var q = 0; q < p; q++)
                Expect(all[q].shape.SequenceEqual(new[] { LargeRows(q), Width }) && Close(all[q], Values(q, LargeRows(q) * Width, ReduceOp.Sum), dtype), $"AllGather {dtype} of {LargeRows(q)}x{Width}, block {q}");
            var destination = 1;
            var gathered = group.Gather(mine, destination);
            if (r == destination)
                for (var q = 0; q < p; q++)
                    Expect(gathered![q].shape.SequenceEqual(new[] { LargeRows(q), Width }) && Close(gathered[q], Values(q, LargeRows(q) * Width, ReduceOp.Sum), dtype), $"Gather {dtype} of {LargeRows(q)}x{Width} to {destination}, block {q}");
            else Expect(gathered is null, "Gather returns null away from the destination");
            var source = p - 1;
            using var broadcast = Data(r, LargeRows(source) * Width, dtype, ReduceOp.Sum);
            group.Broadcast(broadcast, source);
            Expect(Close(broadcast, Values(source, LargeRows(source) * Width, ReduceOp.Sum), dtype), $"Broadcast {dtype}[{LargeRows(source) * Width}] from {source}");

            foreach (var op in ops)
            {
                var rows = 150L * p + 1;
                using var input = Data(r, rows * Width, dtype, op).reshape(rows, Width);
                using var part = group.ReduceScatter(input, op);
                var start = Enumerable.Range(0, r).Sum(q => RowsOf(rows, p, q));
                var expected = Reference(p, rows * Width, dtype, op)[(int)(start * Width)..(int)((start + RowsOf(rows, p, r)) * Width)];
                var ok = part.shape.SequenceEqual(new[] { RowsOf(rows, p, r), Width }) && Close(part, expected, dtype);
                Expect(ok, ok ? "" : $"ReduceScatter({op}) {dtype} of {rows}x{Width}: {Diff(part, expected)}");
            }
        }

        Console.WriteLine($"TCP BYTES {Accelerate.Distributed.Tcp.PeerLink.PayloadBytesSent - tcpBefore}");
        Console.WriteLine($"SINGLE COPY BYTES {Accelerate.Distributed.SharedMemory.ProcessMemory.BytesRead - readBefore}");
        return results.Verdict(r);
    }

    private static long Rows(int rank) => rank == 1 ? 0 : rank * 2 + 1;

    /// <summary>Rows of 2000 elements per rank for blocks past a shared-memory slot: 1.2 MB of bfloat16 and up, different on every rank.</summary>
    private static long LargeRows(int rank) => 300 + 97 * rank;

    private static long RowsOf(long rows, int p, int rank) => rows / p + (rank < rows % p ? 1 : 0);

    /// <summary>
    /// Small integers, exact in every dtype; products stay small. They follow a hash of the index, not a short period,
    /// so a piece delivered to the wrong offset never lands on equal values.
    /// </summary>
    private static double[] Values(int rank, long n, ReduceOp op) =>
        Enumerable.Range(0, (int)n).Select(i =>
        {
            var mixed = (int)(((uint)i * 2654435761u + (uint)rank * 40503u) >> 16);
            return op == ReduceOp.Product ? (double)(mixed % 3 - 1 == 0 ? 2 : mixed % 3 - 1) : mixed % 13 - 6;
        }).ToArray();

    private static torch.Tensor Data(int rank, long n, torch.ScalarType dtype, ReduceOp op) =>
        torch.tensor(Values(rank, n, op), torch.ScalarType.Float64).to(dtype);

    /// <summary>The reduction of every rank's <see cref="Values"/>.</summary>
    private static double[] Reference(int p, long n, torch.ScalarType dtype, ReduceOp op)
    {
        var result = Values(0, n, op);
        for (var q = 1; q < p; q++)
        {
            var other = Values(q, n, op);
            for (var i = 0; i < n; i++)
                result[i] = op switch
                {
                    ReduceOp.Min => Math.Min(result[i], other[i]),
                    ReduceOp.Max => Math.Max(result[i], other[i]),
                    ReduceOp.Product => result[i] * other[i],
                    _ => result[i] + other[i],
                };
        }
        if (op == ReduceOp.Average)
            for (var i = 0; i < n; i++)
                result[i] = dtype is torch.ScalarType.Int32 or torch.ScalarType.Int64 ? Math.Truncate(result[i] / p) : result[i] / p;
        return result;
    }

    private static bool Close(torch.Tensor actual, double[] expected, torch.ScalarType dtype)
    {
        var values = ToDoubles(actual);
        if (values.Length != expected.Length) return false;
        var tolerance = dtype is torch.ScalarType.BFloat16 or torch.ScalarType.Float16 ? 1e-2 : 1e-6;
        return values.Zip(expected).All(pair => Math.Abs(pair.First - pair.Second) <= tolerance * Math.Max(1, Math.Abs(pair.Second)));
    }

    private static double[] ToDoubles(torch.Tensor tensor) =>
        tensor.numel() == 0 ? [] : tensor.to(torch.ScalarType.Float64).contiguous().data<double>().ToArray();

    private static string Diff(torch.Tensor actual, double[] expected)
    {
        var values = ToDoubles(actual);
        if (values.Length != expected.Length) return $"{values.Length} elements, expected {expected.Length}";
        var i = Enumerable.Range(0, values.Length).FirstOrDefault(k => Math.Abs(values[k] - expected[k]) > 1e-2 * Math.Max(1, Math.Abs(expected[k])), -1);
        return i < 0 ? "equal" : $"element {i} is {values[i]}, expected {expected[i]}";
    }
}

internal sealed record Payload(string Text, int[] Numbers);
