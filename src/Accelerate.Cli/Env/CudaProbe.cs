using System.Diagnostics;

namespace Accelerate.Cli.Env;

/// <summary>
/// Finds CUDA and the GPUs the way a user would check by hand: the driver library, <c>/proc/driver/nvidia</c>,
/// and <c>nvidia-smi</c>. It never loads libtorch, which keeps <c>accelerate env</c> and <c>config default</c> light.
/// </summary>
internal static class CudaProbe
{
    private static readonly TimeSpan NvidiaSmiTimeout = TimeSpan.FromSeconds(10);

    public static CudaStatus Detect(CudaProbeSources sources)
    {
        var driver = DriverVersion(sources.NvidiaProcFolder);
        var gpus = FromNvidiaSmi(sources.Path) ?? FromProc(sources.NvidiaProcFolder);
        if (!sources.LoadsDriverLibrary())
            return new CudaStatus(false, driver, gpus, "the CUDA driver library (libcuda.so.1) is not installed or does not load");
        if (gpus.Count == 0)
            return new CudaStatus(false, driver, gpus, "the CUDA driver loads but lists no GPU");
        return new CudaStatus(true, driver, gpus, $"{gpus.Count} GPU(s) found");
    }

    private static string? DriverVersion(string procFolder)
    {
        var file = Path.Combine(procFolder, "version");
        if (!File.Exists(file)) return null;
        // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..."
        var first = File.ReadLines(file).FirstOrDefault() ?? "";
        return first.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(w => w.Count(c => c == '.') >= 1 && char.IsAsciiDigit(w[0]));
    }

    private static List<string> FromProc(string procFolder)
    {
        var gpusFolder = Path.Combine(procFolder, "gpus");
        if (!Directory.Exists(gpusFolder)) return [];
        return Directory.GetDirectories(gpusFolder).Order(StringComparer.Ordinal).Select(gpu =>
        {
            var information = Path.Combine(gpu, "information");
            var model = File.Exists(information)
                ? File.ReadLines(information).FirstOrDefault(l => l.StartsWith("Model:", StringComparison.Ordinal))?["Model:".Length..].Trim()
                : null;
            return model ?? $"NVIDIA GPU at {Path.GetFileName(gpu)}";
        }).ToList();
    }

    private static List<string>? FromNvidiaSmi(string? searchPath)
    {
        var executable = (searchPath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, OperatingSystem.IsWindows() ? "nvidia-smi.exe" : "nvidia-smi"))
            .FirstOrDefault(File.Exists);
        if (executable is null) return null;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--query-gpu=index,name,memory.total", "--format=csv,noheader" }) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(NvidiaSmiTimeout))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
            if (process.ExitCode != 0) return null;
            // "0, NVIDIA A100-SXM4-80GB, 81920 MiB"
            return output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(',', 3, StringSplitOptions.TrimEntries))
                .Select(parts => parts.Length == 3 ? $"{parts[0]}: {parts[1]} ({parts[2]})" : string.Join(", ", parts))
                .ToList();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
