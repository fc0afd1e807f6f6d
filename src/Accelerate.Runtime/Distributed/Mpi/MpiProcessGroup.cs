using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.Mpi;

/// <summary>
/// The same collectives over the site's MPI (Open MPI's libmpi): how jobs started by
/// <c>mpirun</c> on a cluster let the MPI library move the bytes. Half-precision reductions use
/// MPI user operations that call the runtime's own kernels.
/// </summary>
internal sealed unsafe class MpiProcessGroup : CollectiveGroup
{
    private static readonly Dictionary<ReduceOp, nint> HalfOps = [];
    private static nint _float16Type;
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
        var (counts, displacements, total) = Layout(bytes);
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
            LibMpi.Gatherv(send, checked((int)bytes[Rank]), byteType, 0, null, null, byteType, destination, _comm);
            return;
        }
        var (counts, displacements, total) = Layout(bytes);
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
        var elements = counts.Select(c => checked((int)c)).ToArray();
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

    private static (int[] Counts, int[] Displacements, long Total) Layout(long[] bytes)
    {
        var counts = new int[bytes.Length];
        var displacements = new int[bytes.Length];
        long total = 0;
        for (var r = 0; r < bytes.Length; r++)
        {
            counts[r] = checked((int)bytes[r]);
            displacements[r] = checked((int)total);
            total += bytes[r];
        }
        return (counts, displacements, total);
    }

    private static nint Operation(ElementType type, ReduceOp op)
    {
        if (type is ElementType.Float16 or ElementType.BFloat16)
        {
            lock (HalfOps)
            {
                if (!HalfOps.TryGetValue(op, out var custom))
                {
                    custom = op switch
                    {
                        ReduceOp.Sum => LibMpi.OpCreate(&HalfSum),
                        ReduceOp.Product => LibMpi.OpCreate(&HalfProduct),
                        ReduceOp.Min => LibMpi.OpCreate(&HalfMin),
                        _ => LibMpi.OpCreate(&HalfMax),
                    };
                    HalfOps[op] = custom;
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
    private static void HalfSum(nint input, nint inout, int* length, nint* datatype) => Half(ReduceOp.Sum, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void HalfProduct(nint input, nint inout, int* length, nint* datatype) => Half(ReduceOp.Product, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void HalfMin(nint input, nint inout, int* length, nint* datatype) => Half(ReduceOp.Min, input, inout, *length, *datatype);

    [UnmanagedCallersOnly]
    private static void HalfMax(nint input, nint inout, int* length, nint* datatype) => Half(ReduceOp.Max, input, inout, *length, *datatype);

    private static void Half(ReduceOp op, nint input, nint inout, int length, nint datatype) =>
        Reduction.Combine(datatype == _float16Type ? ElementType.Float16 : ElementType.BFloat16, op, (byte*)inout, (byte*)input, length);
}
