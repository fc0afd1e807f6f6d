using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.Nccl;

/// <summary>The NCCL calls the NCCL backend needs, bound at run time from <c>libnccl.so.2</c>.</summary>
internal static unsafe class LibNccl
{
    public const string LibraryName = "libnccl.so.2";
    private static readonly Lazy<nint> Handle = new(Load);

    /// <summary>NCCL's 128-byte communicator id, passed by value.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 128)]
    public struct UniqueId
    {
        private fixed byte _bytes[128];
    }

    public static void EnsureLoaded() => _ = Handle.Value;

    private static nint Export(string name) => NativeLibrary.GetExport(Handle.Value, name);

    public static UniqueId GetUniqueId()
    {
        UniqueId id;
        Check(((delegate* unmanaged<UniqueId*, int>)Export("ncclGetUniqueId"))(&id), "ncclGetUniqueId");
        return id;
    }

    public static nint CommInitRank(int ranks, UniqueId id, int rank)
    {
        nint comm;
        Check(((delegate* unmanaged<nint*, int, UniqueId, int, int>)Export("ncclCommInitRank"))(&comm, ranks, id, rank), "ncclCommInitRank");
        return comm;
    }

    public static void CommDestroy(nint comm) => ((delegate* unmanaged<nint, int>)Export("ncclCommDestroy"))(comm);

    public static void AllReduce(nint send, nint receive, long count, int type, int op, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export("ncclAllReduce"))(send, receive, (nuint)count, type, op, comm, 0), "ncclAllReduce");

    public static void Broadcast(nint send, nint receive, long count, int type, int root, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export("ncclBroadcast"))(send, receive, (nuint)count, type, root, comm, 0), "ncclBroadcast");

    public static void AllGather(nint send, nint receive, long count, int type, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, nuint, int, nint, nint, int>)Export("ncclAllGather"))(send, receive, (nuint)count, type, comm, 0), "ncclAllGather");

    public static void ReduceScatter(nint send, nint receive, long count, int type, int op, nint comm) =>
        Check(((delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export("ncclReduceScatter"))(send, receive, (nuint)count, type, op, comm, 0), "ncclReduceScatter");

    /// <summary>NCCL's <c>ncclDataType_t</c>.</summary>
    public static int Datatype(ElementType type) => type switch
    {
        ElementType.Int8 => 0,
        ElementType.UInt8 or ElementType.Bool => 1,
        ElementType.Int32 => 2,
        ElementType.Int64 => 4,
        ElementType.Float16 => 6,
        ElementType.Float32 => 7,
        ElementType.Float64 => 8,
        ElementType.BFloat16 => 9,
        _ => throw new AccelerateException(RuntimeErrorCode.UnsupportedDtype, $"NCCL has no {type.Name()} type. Convert the tensor to a supported dtype first."),
    };

    /// <summary>NCCL's <c>ncclRedOp_t</c>.</summary>
    public static int Operation(ReduceOp op) => op switch
    {
        ReduceOp.Sum => 0,
        ReduceOp.Product => 1,
        ReduceOp.Max => 2,
        ReduceOp.Min => 3,
        _ => 4, // ncclAvg
    };

    private static void Check(int result, string function)
    {
        if (result == 0) return;
        var text = Marshal.PtrToStringUTF8(((delegate* unmanaged<int, nint>)Export("ncclGetErrorString"))(result));
        throw new AccelerateException(RuntimeErrorCode.NcclCallFailed, $"{function} failed: {text} (NCCL result {result}). Set NCCL_DEBUG=INFO for NCCL's own explanation.");
    }

    private static nint Load()
    {
        if (NativeLibrary.TryLoad(LibraryName, out var handle)) return handle;
        throw new AccelerateException(RuntimeErrorCode.NcclNotLoaded, $"The NCCL backend needs {LibraryName}, which could not be loaded. Install NCCL for this CUDA version " +
            "(e.g. apt-get install libnccl2 from NVIDIA's repository) or put its folder on LD_LIBRARY_PATH; or run collectives on the CPU with ACCELERATE_DISTRIBUTED_BACKEND=tcp.");
    }
}
