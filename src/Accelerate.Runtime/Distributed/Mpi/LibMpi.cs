using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.Mpi;

/// <summary>
/// The few Open MPI calls the MPI backend needs, bound at run time from <c>libmpi.so.40</c>.
/// Open MPI handles are pointers: <c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, ... are
/// the addresses of exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>, ...).
/// </summary>
internal static unsafe class LibMpi
{
    public const string LibraryName = "libmpi.so.40";
    public static readonly nint InPlace = 1;
    private static readonly Lazy<nint> Handle = new(Load);

    public static nint CommWorld => Global("ompi_mpi_comm_world");

    public static void EnsureLoaded() => _ = Handle.Value;

    public static nint Global(string name) => NativeLibrary.GetExport(Handle.Value, name);

    public static int Initialized()
    {
        int flag;
        Check(((delegate* unmanaged<int*, int>)Global("MPI_Initialized"))(&flag), "MPI_Initialized");
        return flag;
    }

    public static int Finalized()
    {
        int flag;
        Check(((delegate* unmanaged<int*, int>)Global("MPI_Finalized"))(&flag), "MPI_Finalized");
        return flag;
    }

    public static void Init() => Check(((delegate* unmanaged<int*, byte***, int>)Global("MPI_Init"))(null, null), "MPI_Init");

    public static void FinalizeMpi() => Check(((delegate* unmanaged<int>)Global("MPI_Finalize"))(), "MPI_Finalize");

    public static int CommRank(nint comm)
    {
        int value;
        Check(((delegate* unmanaged<nint, int*, int>)Global("MPI_Comm_rank"))(comm, &value), "MPI_Comm_rank");
        return value;
    }

    public static int CommSize(nint comm)
    {
        int value;
        Check(((delegate* unmanaged<nint, int*, int>)Global("MPI_Comm_size"))(comm, &value), "MPI_Comm_size");
        return value;
    }

    public static void Allreduce(nint send, nint receive, int count, nint type, nint op, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Global("MPI_Allreduce"))(send, receive, count, type, op, comm), "MPI_Allreduce");

    public static void Bcast(nint buffer, int count, nint type, int root, nint comm) =>
        Check(((delegate* unmanaged<nint, int, nint, int, nint, int>)Global("MPI_Bcast"))(buffer, count, type, root, comm), "MPI_Bcast");

    public static void Allgatherv(nint send, int sendCount, nint sendType, nint receive, int* counts, int* displacements, nint receiveType, nint comm) =>
        Check(((delegate* unmanaged<nint, int, nint, nint, int*, int*, nint, nint, int>)Global("MPI_Allgatherv"))(send, sendCount, sendType, receive, counts, displacements, receiveType, comm), "MPI_Allgatherv");

    public static void Gatherv(nint send, int sendCount, nint sendType, nint receive, int* counts, int* displacements, nint receiveType, int root, nint comm) =>
        Check(((delegate* unmanaged<nint, int, nint, nint, int*, int*, nint, int, nint, int>)Global("MPI_Gatherv"))(send, sendCount, sendType, receive, counts, displacements, receiveType, root, comm), "MPI_Gatherv");

    public static void ReduceScatter(nint send, nint receive, int* counts, nint type, nint op, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, int*, nint, nint, nint, int>)Global("MPI_Reduce_scatter"))(send, receive, counts, type, op, comm), "MPI_Reduce_scatter");

    public static void Barrier(nint comm) => Check(((delegate* unmanaged<nint, int>)Global("MPI_Barrier"))(comm), "MPI_Barrier");

    public static nint OpCreate(delegate* unmanaged<nint, nint, int*, nint*, void> function)
    {
        nint op;
        Check(((delegate* unmanaged<delegate* unmanaged<nint, nint, int*, nint*, void>, int, nint*, int>)Global("MPI_Op_create"))(function, 1, &op), "MPI_Op_create");
        return op;
    }

    /// <summary>The MPI datatype for an element type (half types travel as 16-bit integers and reduce through our own ops).</summary>
    public static nint Datatype(ElementType type) => Global(type switch
    {
        ElementType.Float32 => "ompi_mpi_float",
        ElementType.Float64 => "ompi_mpi_double",
        ElementType.Int32 => "ompi_mpi_int32_t",
        ElementType.Int64 => "ompi_mpi_int64_t",
        ElementType.Int16 => "ompi_mpi_int16_t",
        ElementType.Int8 => "ompi_mpi_int8_t",
        ElementType.UInt8 => "ompi_mpi_uint8_t",
        ElementType.Float16 => "ompi_mpi_uint16_t",
        ElementType.BFloat16 => "ompi_mpi_int16_t",
        _ => "ompi_mpi_byte",
    });

    private static void Check(int code, string function)
    {
        if (code != 0)
            throw new AccelerateException(RuntimeErrorCode.MpiCallFailed, $"{function} failed with MPI error code {code}. See the MPI library's output above; check the mpirun command line and the cluster's MPI set-up.");
    }

    private static nint Load()
    {
        // Open MPI's plugins resolve symbols from libmpi itself: load it with RTLD_GLOBAL.
        const int RtldNow = 2, RtldGlobal = 0x100;
        var handle = dlopen(LibraryName, RtldNow | RtldGlobal);
        if (handle == 0)
        {
            var reason = Marshal.PtrToStringUTF8(dlerror()) ?? "not found";
            throw new AccelerateException(RuntimeErrorCode.MpiNotLoaded, $"The MPI backend needs Open MPI's {LibraryName}, which could not be loaded: {reason}. " +
                "Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), or choose another backend with ACCELERATE_DISTRIBUTED_BACKEND=tcp.");
        }
        return handle;
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern nint dlerror();
}
