using System.Runtime.InteropServices;
using Accelerate;
using Accelerate.Distributed;
using TorchSharp;

/// <summary>
/// Every collective called with a size, dtype or operation (reduction, source, destination, or
/// another collective altogether) that differs between ranks. Each case runs in a fresh group,
/// since a failed group refuses further collectives; one line per case says how it ended:
/// <c>CASE &lt;name&gt; &lt;error code, or "returned"&gt;</c>.
/// </summary>
internal static class MismatchMatrix
{
    private delegate void Case(ProcessGroup group, bool variant, int last);

    private static readonly (string Name, Case Run)[] Cases =
    [
        ("allreduce-size", (g, v, _) => g.AllReduce(torch.ones(v ? 8 : 4))),
        ("allreduce-dtype", (g, v, _) => g.AllReduce(v ? torch.ones(4, torch.ScalarType.Float64) : torch.ones(8))),
        ("allreduce-op", (g, v, _) => g.AllReduce(torch.ones(4), v ? ReduceOp.Max : ReduceOp.Sum)),
        ("allreduce-average", (g, v, _) => g.AllReduce(torch.ones(4), v ? ReduceOp.Average : ReduceOp.Sum)),
        ("allreduce-empty", (g, v, _) => g.AllReduce(torch.ones(v ? 4 : 0))),
        ("allreduce-large-size", (g, v, _) => g.AllReduce(torch.ones(v ? 12_000_000 : 8_000_000))),
        ("allreduce-span-size", (g, v, _) => g.AllReduce(new float[v ? 8 : 4].AsSpan())),
        ("allreduce-span-dtype", (g, v, _) =>
        {
            if (v) g.AllReduce(new int[4].AsSpan());
            else g.AllReduce(new float[4].AsSpan());
        }),
        ("allreduce-span-op", (g, v, _) => g.AllReduce(new float[4].AsSpan(), v ? ReduceOp.Min : ReduceOp.Sum)),
        ("broadcast-size", (g, v, _) => g.Broadcast(torch.ones(v ? 8 : 4))),
        ("broadcast-dtype", (g, v, _) => g.Broadcast(v ? torch.ones(4, torch.ScalarType.Float64) : torch.ones(8))),
        ("broadcast-source", (g, v, last) => g.Broadcast(torch.ones(4), v ? last : 0)),
        ("broadcast-span-size", (g, v, _) => g.Broadcast(new long[v ? 8 : 4].AsSpan())),
        ("broadcast-span-dtype", (g, v, _) =>
        {
            if (v) g.Broadcast(new double[4].AsSpan());
            else g.Broadcast(new long[4].AsSpan());
        }),
        ("broadcast-span-source", (g, v, last) => g.Broadcast(new long[4].AsSpan(), v ? last : 0)),
        ("allgather-size", (g, v, _) => g.AllGather(torch.ones(2, v ? 4 : 3))),
        ("allgather-dtype", (g, v, _) => g.AllGather(v ? torch.ones(2, 1, torch.ScalarType.Float64) : torch.ones(2, 2))),
        ("allgather-span-dtype", (g, v, _) =>
        {
            if (v) g.AllGather<float>(new float[3]);
            else g.AllGather<int>(new int[3]);
        }),
        ("gather-size", (g, v, _) => g.Gather(torch.ones(2, v ? 4 : 3))),
        ("gather-dtype", (g, v, _) => g.Gather(v ? torch.ones(2, 1, torch.ScalarType.Float64) : torch.ones(2, 2))),
        ("gather-destination", (g, v, last) => g.Gather(torch.ones(2, 3), v ? last : 0)),
        ("reducescatter-size", (g, v, _) => g.ReduceScatter(torch.ones(2 * g.WorldSize, v ? 3 : 2))),
        ("reducescatter-dtype", (g, v, _) => g.ReduceScatter(v ? torch.ones(2 * g.WorldSize, 1, torch.ScalarType.Float64) : torch.ones(2 * g.WorldSize, 2))),
        ("reducescatter-op", (g, v, _) => g.ReduceScatter(torch.ones(2 * g.WorldSize, 2), v ? ReduceOp.Max : ReduceOp.Sum)),
        ("barrier-vs-allreduce", (g, v, _) =>
        {
            // The all-reduce a barrier runs over TCP: one int32, summed.
            if (v) g.Barrier();
            else g.AllReduce(torch.zeros(1, torch.ScalarType.Int32));
        }),
        ("allreduce-vs-broadcast", (g, v, _) =>
        {
            if (v) g.Broadcast(torch.ones(4));
            else g.AllReduce(torch.ones(4));
        }),
        ("allreduce-vs-reducescatter", (g, v, _) =>
        {
            if (v) g.ReduceScatter(torch.ones(2 * g.WorldSize, 2));
            else g.AllReduce(torch.ones(2 * g.WorldSize, 2));
        }),
        ("allgather-vs-gather", (g, v, _) =>
        {
            if (v) g.Gather(torch.ones(2, 3));
            else g.AllGather(torch.ones(2, 3));
        }),
        ("broadcastobject-source", (g, v, last) => g.BroadcastObject("settings", v ? last : 0)),
        ("broadcastobject-vs-allgatherobject", (g, v, _) =>
        {
            if (v) g.AllGatherObject("settings");
            else g.BroadcastObject("settings");
        }),
        // An integer average is summed in a wider dtype: it must still meet a plain sum as a mismatch.
        ("allreduce-int8-average", (g, v, _) => g.AllReduce(torch.ones(4, torch.ScalarType.Int8), v ? ReduceOp.Average : ReduceOp.Sum)),
        ("reducescatter-int16-average", (g, v, _) => g.ReduceScatter(torch.ones(2 * g.WorldSize, torch.ScalarType.Int16), v ? ReduceOp.Average : ReduceOp.Sum)),
        // The same number of elements in another shape splits into other chunks along dim 0.
        ("reducescatter-shape", (g, v, _) => g.ReduceScatter(v ? torch.ones(2, g.WorldSize + 1) : torch.ones(g.WorldSize + 1, 2))),
        ("allgatherinto-size", (g, v, _) => g.AllGatherInto(torch.empty(g.WorldSize * (v ? 4 : 3)), torch.ones(v ? 4 : 3))),
        ("allgatherinto-dtype", (g, v, _) => g.AllGatherInto(torch.empty(g.WorldSize * 4, v ? torch.ScalarType.Int32 : torch.ScalarType.Float32), torch.ones(4, v ? torch.ScalarType.Int32 : torch.ScalarType.Float32))),
        ("allgather-outputs-size", (g, v, _) => g.AllGather(Enumerable.Range(0, g.WorldSize).Select(_ => torch.empty(2, v ? 4 : 3)).ToArray(), torch.ones(2, v ? 4 : 3))),
        ("allgatherinto-large-size", (g, v, _) => g.AllGatherInto(torch.empty(g.WorldSize * (v ? 600_000 : 400_000)), torch.ones(v ? 600_000 : 400_000))),
        ("allgatherinto-vs-allgather", (g, v, _) =>
        {
            if (v) g.AllGather(torch.ones(4));
            else g.AllGatherInto(torch.empty(g.WorldSize * 4), torch.ones(4));
        }),
        ("gatherinto-size", (g, v, _) => g.GatherInto(g.Rank == 0 ? torch.empty(g.WorldSize * (v ? 4 : 3)) : null, torch.ones(v ? 4 : 3))),
        ("gatherinto-destination", (g, v, last) => g.GatherInto(torch.empty(g.WorldSize * 3), torch.ones(3), v ? last : 0)),
        ("gather-outputs-vs-gather", (g, v, _) =>
        {
            if (v) g.Gather(torch.ones(2, 3));
            else g.Gather(torch.ones(2, 3), Enumerable.Range(0, g.WorldSize).Select(_ => torch.empty(2, 3)).ToArray());
        }),
    ];

    /// <param name="upperHalf">True: ranks from world/2 up run the variant (across machines, a whole machine differs); false: only the last rank.</param>
    /// <param name="ownMpi">True under mpirun: MPI is initialized here, so each group leaves it running for the next.</param>
    /// <param name="outputs">Where each rank also writes its lines, to rank.&lt;n&gt; (mpirun's merged output may cut one rank's long lines into another's), or null.</param>
    public static int Run(bool upperHalf, bool ownMpi, string? outputs)
    {
        if (ownMpi) OwnMpi.Init();
        var lines = new List<string>();
        void Print(string line)
        {
            Console.WriteLine(line);
            lines.Add(line);
        }
        Print($"CASES {Cases.Length}");
        var rank = -1;
        foreach (var (name, run) in Cases)
        {
            var group = DistributedState.Initialize() ?? throw new InvalidOperationException("not launched as several ranks");
            if (name == Cases[0].Name) Print($"joined rank {group.Rank} of {group.WorldSize} backend {group.Backend}");
            rank = group.Rank;
            var variant = upperHalf ? group.Rank >= group.WorldSize / 2 : group.Rank == group.WorldSize - 1;
            string outcome;
            try
            {
                run(group, variant, group.WorldSize - 1);
                outcome = "returned";
            }
            catch (AccelerateException e)
            {
                outcome = $"{e.Code} {e.Message}";
            }
            DistributedState.Shutdown();
            Print($"CASE {name} {outcome.ReplaceLineEndings(" ")}");
        }
        if (outputs is not null) File.WriteAllLines(Path.Combine(outputs, $"rank.{rank}"), lines);
        if (ownMpi) OwnMpi.Finish();
        return 0;
    }

    /// <summary>A program that initializes MPI itself (loaded globally, as Open MPI's plugins need).</summary>
    private static unsafe class OwnMpi
    {
        private static nint _library;

        public static void Init()
        {
            _library = dlopen("libmpi.so.40", 2 | 0x100);
            if (_library == 0) throw new InvalidOperationException("libmpi.so.40 did not load");
            ((delegate* unmanaged<int*, byte***, int>)NativeLibrary.GetExport(_library, "MPI_Init"))(null, null);
        }

        public static void Finish() => ((delegate* unmanaged<int>)NativeLibrary.GetExport(_library, "MPI_Finalize"))();

        [DllImport("libc")]
        private static extern nint dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);
    }
}
