using System.Runtime.InteropServices;

namespace Accelerate.Distributed.SharedMemory;

/// <summary>
/// Splits the CPUs this process may use into one block per rank of the machine (in every network
/// namespace on it) and keeps each rank on its own block (as mpirun binds ranks by default): ranks that
/// poll shared memory or sockets must not share a core, or each signal waits for the scheduler.
/// Skipped when there are fewer CPUs than ranks, and when <c>ACCELERATE_CPU_AFFINITY=0</c>.
/// </summary>
internal static unsafe class CpuAffinity
{
    private const int MaskBytes = 128; // 1024 CPUs

    /// <summary>Binds every thread of this process to block <paramref name="index"/> of <paramref name="count"/>; returns the CPUs, or null if it did not bind.</summary>
    public static int[]? Bind(int index, int count)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("ACCELERATE_CPU_AFFINITY") is "0" or "false" or "False") return null;
        var mask = stackalloc byte[MaskBytes];
        if (sched_getaffinity(0, MaskBytes, mask) != 0) return null;
        var allowed = Enumerable.Range(0, MaskBytes * 8).Where(cpu => (mask[cpu / 8] & (1 << (cpu % 8))) != 0).ToArray();
        if (allowed.Length < count) return null;
        var per = allowed.Length / count;
        var mine = allowed.Skip(index * per).Take(per).ToArray();
        var bound = stackalloc byte[MaskBytes];
        foreach (var cpu in mine) bound[cpu / 8] |= (byte)(1 << (cpu % 8));
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            if (int.TryParse(Path.GetFileName(task), out var thread))
                sched_setaffinity(thread, MaskBytes, bound); // a thread that just ended is no loss
        return mine;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nint size, byte* mask);

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint size, byte* mask);
}
