using System.Runtime.InteropServices;

namespace Accelerate.Distributed.SharedMemory;

/// <summary>
/// Reads and writes another process's memory with one copy (Linux cross-memory attach, <c>process_vm_readv</c>, as Open MPI's
/// shared-memory transport does for large messages): the kernel copies straight from the peer's buffer into ours,
/// where a shared-memory slot needs two copies (into the slot, out of it). Allowed between processes of one user
/// unless a security module or a container's seccomp profile forbids it, which <see cref="SharedMemoryCollectives"/>
/// finds out once per group.
/// </summary>
internal static unsafe class ProcessMemory
{
    private static long _bytesRead;

    /// <summary>Bytes this process has copied from or to peers' memory (which collectives took the single-copy path shows here).</summary>
    public static long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Copies <paramref name="bytes"/> bytes at <paramref name="remote"/> in process <paramref name="processId"/> to <paramref name="local"/>; false (errno set) when the kernel refuses.</summary>
    public static bool TryRead(int processId, nint remote, nint local, long bytes) => TryCopy(processId, remote, local, bytes, write: false);

    /// <summary>Copies <paramref name="bytes"/> bytes at <paramref name="local"/> to <paramref name="remote"/> in process <paramref name="processId"/>; false (errno set) when the kernel refuses.</summary>
    public static bool TryWrite(int processId, nint remote, nint local, long bytes) => TryCopy(processId, remote, local, bytes, write: true);

    private static bool TryCopy(int processId, nint remote, nint local, long bytes, bool write)
    {
        if (!OperatingSystem.IsLinux()) return false;
        while (bytes > 0)
        {
            var n = (nint)Math.Min(bytes, 1L << 30);
            var localVector = new IoVector { Base = local, Length = n };
            var remoteVector = new IoVector { Base = remote, Length = n };
            var read = write
                ? process_vm_writev(processId, &localVector, 1, &remoteVector, 1, 0)
                : process_vm_readv(processId, &localVector, 1, &remoteVector, 1, 0);
            if (read <= 0) return false;
            Interlocked.Add(ref _bytesRead, read);
            bytes -= read;
            local += (nint)read;
            remote += (nint)read;
        }
        return true;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public nint Base;
        public nint Length;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint process_vm_readv(int pid, IoVector* localVectors, nuint localCount, IoVector* remoteVectors, nuint remoteCount, nuint flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint process_vm_writev(int pid, IoVector* localVectors, nuint localCount, IoVector* remoteVectors, nuint remoteCount, nuint flags);
}
