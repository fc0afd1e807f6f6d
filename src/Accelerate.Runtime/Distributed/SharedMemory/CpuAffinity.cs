using System.Runtime.InteropServices;

namespace Accelerate.Distributed.SharedMemory;

/// <summary>
/// Splits the CPUs this process may use into one block per rank of the machine (in every network
/// namespace on it) and keeps each rank on its own block (as mpirun binds ranks by default): ranks that
/// poll shared memory or sockets must not share a core, or each signal waits for the scheduler.
/// Skipped when there are fewer CPUs than ranks, when <c>ACCELERATE_CPU_AFFINITY=0</c>, and when whoever
/// started the rank already bound it (<c>srun --cpu-bind</c>, <c>mpirun --bind-to</c>, <c>taskset</c>): splitting
/// a rank's own CPUs again would leave it a fraction of what the scheduler gave it.
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
        var mine = Block(allowed, CpusOfThisCgroup(), index, count);
        if (mine is null) return null;
        var bound = stackalloc byte[MaskBytes];
        foreach (var cpu in mine) bound[cpu / 8] |= (byte)(1 << (cpu % 8));
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            if (int.TryParse(Path.GetFileName(task), out var thread))
                sched_setaffinity(thread, MaskBytes, bound); // a thread that just ended is no loss
        return mine;
    }

    /// <summary>
    /// Block <paramref name="index"/> of <paramref name="count"/> of the <paramref name="allowed"/> CPUs; null when there
    /// are fewer CPUs than ranks, or when the process is already bound: its CPUs are fewer than those its cgroup offers
    /// (<paramref name="offered"/>, null when unknown), so someone chose them for this rank.
    /// </summary>
    internal static int[]? Block(IReadOnlyList<int> allowed, IReadOnlyCollection<int>? offered, int index, int count)
    {
        if (allowed.Count < count) return null;
        if (offered is not null && offered.Intersect(allowed).Count() < offered.Count) return null;
        var per = allowed.Count / count;
        return allowed.Skip(index * per).Take(per).ToArray();
    }

    /// <summary>The CPUs this process's cpuset cgroup offers (cgroup v2, then v1), else the online CPUs; null when none can be read.</summary>
    private static int[]? CpusOfThisCgroup()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length < 3) continue;
                var file = parts[1] switch
                {
                    "" => $"/sys/fs/cgroup{parts[2]}/cpuset.cpus.effective",
                    var controllers when controllers.Split(',').Contains("cpuset") => $"/sys/fs/cgroup/cpuset{parts[2]}/cpuset.effective_cpus",
                    _ => null,
                };
                if (file is not null && File.Exists(file) && ParseList(File.ReadAllText(file)) is { Length: > 0 } cpus) return cpus;
            }
            return ParseList(File.ReadAllText("/sys/devices/system/cpu/online"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Parses a kernel CPU list such as <c>0-3,8,10-11</c>.</summary>
    internal static int[] ParseList(string list) =>
        list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries).SelectMany(range =>
        {
            var ends = range.Split('-');
            var first = int.Parse(ends[0]);
            return Enumerable.Range(first, int.Parse(ends[^1]) - first + 1);
        }).ToArray();

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nint size, byte* mask);

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint size, byte* mask);
}
