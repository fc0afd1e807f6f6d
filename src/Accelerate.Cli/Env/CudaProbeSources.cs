using System.Runtime.InteropServices;

namespace Accelerate.Cli.Env;

/// <summary>Where <see cref="CudaProbe"/> looks: the proc tree of the NVIDIA driver, the driver library, and the PATH for nvidia-smi.</summary>
/// <param name="NvidiaProcFolder">Normally <c>/proc/driver/nvidia</c>.</param>
/// <param name="LoadsDriverLibrary">Whether <c>libcuda.so.1</c> can be loaded.</param>
/// <param name="Path">The PATH searched for <c>nvidia-smi</c>.</param>
internal sealed record CudaProbeSources(string NvidiaProcFolder, Func<bool> LoadsDriverLibrary, string? Path)
{
    public static CudaProbeSources System { get; } = new("/proc/driver/nvidia", LoadDriverLibrary, Environment.GetEnvironmentVariable("PATH"));

    private static bool LoadDriverLibrary()
    {
        var name = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(name, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }
}
