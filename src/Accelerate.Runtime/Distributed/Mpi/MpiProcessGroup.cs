using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.Mpi;

/// <summary>
/// The same collectives over the site's MPI (Open MPI's libmpi): how jobs started by
/// <c>mpirun</c> on a cluster let the MPI library move the bytes. Half-precision reductions, and
/// Min/Max of float32 and float64, use MPI user operations that call the runtime's own kernels:
/// MPI's own MIN and MAX compare with &lt; and &gt;, so a NaN on one rank is lost or kept depending
/// on the order ranks are combined in, where the other backends (and torch.minimum) return NaN.
/// </summary>
internal sealed unsafe class MpiProcessGroup : CollectiveGroup
{
    private static readonly Dictionary<ReduceOp, nint> CustomOps = [];
    private static nint _float16Type;
    private static nint _float32Type;
    private static nint _float64Type;
    private readonly nint _comm;
    private readonly bool _initializedHere;

    private MpiProcessGroup(int rank, int worldSize, bool debugMode, nint comm, bool initializedHere)
        : base(rank, worldSize, debugMode)
    {
        _comm = comm;
        _initializedHere = initializedHere;
    }

    public override string Backend => "mpi";

    /// <summary>Initializes MPI (unless the program already did) and checks that it agrees with the launch environment.</summary>
    public static MpiProcessGroup Create(DistributedEnvironment environment, bool debugMode)
    {
        LibMpi.EnsureLoaded();
        var initializedHere = LibMpi.Initialized() == 0;
        if (initializedHere) LibMpi.Init();
        var comm = LibMpi.CommWorld;
        var rank = LibMpi.CommRank(comm);
        var size = LibMpi.CommSize(comm);
        if (rank != environment.Rank || size != environment.WorldSize)
            throw new AccelerateException(RuntimeErrorCode.MpiEnvironmentMismatch, $"MPI says this is rank {rank} of {size}, but the environment says rank {environment.Rank} of {environment.WorldSize}. " +
                "Start the program with mpirun alone (not mpirun around accelerate launch or torchrun), or choose ACCELERATE_DISTRIBUTED_BACKEND=tcp.");
        _float16Type = LibMpi.Datatype(ElementType.Float16);
        _float32Type = LibMpi.Datatype(ElementType.Float32);
        _float64Type = LibMpi.Datatype(ElementType.Float64);
        return new MpiProcessGroup(rank, size, debugMode, comm, initializedHere);
    }

    protected override void AllReduceCore(nint data, long count, ElementType type, ReduceOp op)
    {
        var datatype = LibMpi.Datatype(type);
        var mpiOp = Operation(type, op);
        var size = type.Size();
        for (long done = 0; done < count; done += int.MaxValue)
        {
            var n = (int)Math.Min(int.MaxValue, count - done);
            LibMpi.Allreduce(LibMpi.InPlace, data + (nint)(done * size), n, datatype, mpiOp, _comm);
        }
    }

    protected override void BroadcastCore(nint data, long bytes, int source)
    {
        var byteType = LibMpi.Global("ompi_mpi_byte");
        for (long done = 0; done < bytes; done += int.MaxValue)
            LibMpi.Bcast(data + (nint)done, (int)Math.Min(int.MaxValue, bytes - done), byteType, source, _comm);
    }

    protected override void AllGatherCore(nint send, long[] bytes, nint[] receive)
    {
        var (counts, displacements, total) = Layout(bytes, "AllGather");
        if (Adjacent(receive, displacements))
        {
            // The blocks go into one buffer (AllGatherInto): MPI writes it directly.
            fixed (int* c = counts)
            fixed (int* d = displacements)
                LibMpi.Allgatherv(send == receive[Rank] ? LibMpi.InPlace : send, counts[Rank], LibMpi.Global("ompi_mpi_byte"), receive[0], c, d, LibMpi.Global("ompi_mpi_byte"), _comm);
            return;
        }
        var gathered = NativeMemory.Alloc((nuint)Math.Max(1, total));
        try
        {
            var byteType = LibMpi.Global("ompi_mpi_byte");
            fixed (int* c = counts)
            fixed (int* d = displacements)
                LibMpi.Allgatherv(send, counts[Rank], byteType, (nint)gathered, c, d, byteType, _comm);
            for (var r = 0; r < WorldSize; r++)
                Buffer.MemoryCopy((byte*)gathered + displacements[r], (void*)receive[r], bytes[r], bytes[r]);
        }
        finally
        {
            NativeMemory.Free(gathered);
        }
    }

    protected override void GatherCore(nint send, long[] bytes, nint[]? receive, int destination)
    {
        var byteType = LibMpi.Global("ompi_mpi_byte");
        if (Rank != destination)
        {
            LibMpi.Gatherv(send, Count(bytes[Rank], "Gather"), byteType, 0, null, null, byteType, destination, _comm);
            return;
        }
        var (counts, displacements, total) = Layout(bytes, "Gather");
        if (Adjacent(receive!, displacements))
        {
            fixed (int* c = counts)
            fixed (int* d = displacements)
                LibMpi.Gatherv(send == receive![Rank] ? LibMpi.InPlace : send, counts[Rank], byteType, receive[0], c, d, byteType, destination, _comm);
            return;
        }
        var gathered = NativeMemory.Alloc((nuint)Math.Max(1, total));
        try
        {
            fixed (int* c = counts)
            fixed (int* d = displacements)
                LibMpi.Gatherv(send, counts[Rank], byteType, (nint)gathered, c, d, byteType, destination, _comm);
            for (var r = 0; r < WorldSize; r++)
                Buffer.MemoryCopy((byte*)gathered + displacements[r], (void*)receive![r], bytes[r], bytes[r]);
        }
        finally
        {
            NativeMemory.Free(gathered);
        }
    }

    protected override void ReduceScatterCore(nint scratch, long[] counts, ElementType type, ReduceOp op, nint output)
    {
        var elements = counts.Select(c => Count(c, "ReduceScatter", "elements")).ToArray();
        fixed (int* c = elements)
            LibMpi.ReduceScatter(scratch, output, c, LibMpi.Datatype(type), Operation(type, op), _comm);
    }

    protected override void BarrierCore() => LibMpi.Barrier(_comm);

    protected override void Close()
    {
        if (_initializedHere && LibMpi.Finalized() == 0) LibMpi.FinalizeMpi();
    }

    /// <summary>True when the blocks are back to back from <c>receive[0]</c>, where MPI would put them in one buffer.</summary>
    private static bool Adjacent(nint[] receive, int[] displacements)
    {
        for (var r = 1; r < receive.Length; r++)
            if (receive[r] != receive[0] + displacements[r]) return false;
        return true;
    }

    private static (int[] Counts, int[] Displacements, long Total) Layout(long[] bytes, string collective)
    {
        var counts = new int[bytes.Length];
        var displacements = new int[bytes.Length];
        long total = 0;
        for (var r = 0; r < bytes.Length; r++)
        {
            counts[r] = Count(bytes[r], collective);
            displacements[r] = Count(total, collective);
            total += bytes[r];
        }
        return (counts, displacements, total);
    }

    /// <summary>
    /// <paramref name="count"/> as an MPI count, or the ACC2287 error: MPI's gathers and reduce-scatter take 32-bit counts
    /// and displacements (the all-reduce and broadcast go in pieces instead). Every rank that knows the sizes fails alike.
    /// </summary>
    private static int Count(long count, string collective, string unit = "bytes") => count <= int.MaxValue ? (int)count :
        throw new AccelerateException(RuntimeErrorCode.MpiCountTooLarge, $"{collective} over MPI moves at most 2^31 - 1 {unit} per rank (gathers: in all) and was given {count}: MPI's counts and displacements are 32-bit. " +
            "Split the tensor and call it per part, or choose ACCELERATE_DISTRIBUTED_BACKEND=tcp (shared memory on one machine), which has no such limit.");

    private static nint Operation(ElementType type, ReduceOp op)
    {
        if (type is ElementType.Float16 or ElementType.BFloat16 || (type is ElementType.Float32 or ElementType.Float64 && op is ReduceOp.Min or ReduceOp.Max))
        {
            lock (CustomOps)
            {
                if (!CustomOps.TryGetValue(op, out var custom))
                {
                    custom = op switch
                    {
                        ReduceOp.Sum => LibMpi.OpCreate(&CustomSum),
                        ReduceOp.Product => LibMpi.OpCreate(&CustomProduct),
                        ReduceOp.Min => LibMpi.OpCreate(&CustomMin),
                        _ => LibMpi.OpCreate(&CustomMax),
                    };
                    CustomOps[op] = custom;
                }
                return custom;
            }
        }
        return LibMpi.Global(op switch
        {
            ReduceOp.Sum => "ompi_mpi_op_sum",
            ReduceOp.Product => "ompi_mpi_op_prod",
            ReduceOp.Min => "ompi_mpi_op_min",
            _ => "ompi_mpi_op_max",
        });
    }

    [UnmanagedCallersOnly]
    private static void CustomSum(nint input, nint inout, int* length, nint* datatype) => Custom(ReduceOp.Sum, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void CustomProduct(nint input, nint inout, int* length, nint* datatype) => Custom(ReduceOp.Product, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void CustomMin(nint input, nint inout, int* length, nint* datatype) => Custom(ReduceOp.Min, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void CustomMax(nint input, nint inout, int* length, nint* datatype) => Custom(ReduceOp.Max, input, inout, *length, *datatype);

    private static void Custom(ReduceOp op, nint input, nint inout, int length, nint datatype)
    {
        var type = datatype == _float16Type ? ElementType.Float16
            : datatype == _float32Type ? ElementType.Float32
            : datatype == _float64Type ? ElementType.Float64
            : ElementType.BFloat16;
        Reduction.Combine(type, op, (byte*)inout, (byte*)input, length);
    }
}
