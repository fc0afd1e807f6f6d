using System.Globalization;

namespace Accelerate.Cli.Env;

/// <summary>Total physical memory, from <c>/proc/meminfo</c> on Linux, else what the .NET runtime sees.</summary>
internal static class SystemMemory
{
    public static long TotalBytes(string meminfo = "/proc/meminfo")
    {
        if (File.Exists(meminfo))
        {
            // "MemTotal:       24598464 kB"
            var line = File.ReadLines(meminfo).FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is [_, var kilobytes, "kB"] && long.TryParse(kilobytes, CultureInfo.InvariantCulture, out var kb)) return kb * 1024;
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }
}
