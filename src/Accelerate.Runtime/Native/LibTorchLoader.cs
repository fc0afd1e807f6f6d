using System.Runtime.InteropServices;
using TorchSharp;

namespace Accelerate.Native;

/// <summary>
/// Loads libtorch through TorchSharp once, and turns TorchSharp's generic "does not contain a
/// reference to libtorch" failure into an error that says what was tried and what to do.
/// </summary>
public static class LibTorchLoader
{
    private static readonly Lazy<Exception?> LoadFailure = new(TryLoad, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Ensures libtorch is loaded; throws <see cref="AccelerateException"/> (ACC2001) if it cannot be.</summary>
    public static void EnsureLoaded()
    {
        if (LoadFailure.Value is { } failure) throw failure;
    }

    private static Exception? TryLoad()
    {
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new AccelerateException(RuntimeErrorCode.LibTorchNotLoaded, Explain(FindLibTorchSharp(), e), e);
        }
    }

    /// <summary>Builds the ACC2001 message from what the loader says about the library it finds.</summary>
    internal static string Explain(string? library, Exception torchSharpError)
    {
        if (library is null)
            return "TorchSharp could not load its native library: no " + NativeFileName +
                   " was found under " + AppContext.BaseDirectory + ". Reference the libtorch package for this OS " +
                   "(libtorch-cpu-linux-x64 on Linux) or build with <Project Sdk=\"Accelerate.Sdk\">, which adds it. " +
                   "TorchSharp said: " + Innermost(torchSharpError).Message;

        string loaderMessage;
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(library));
            loaderMessage = "the library itself loads, so one of its dependencies (libtorch_cpu, libc10) is missing or broken";
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            loaderMessage = e.Message;
        }

        var fix = loaderMessage.Contains("GLIBCXX_", StringComparison.Ordinal) || loaderMessage.Contains("GLIBC_", StringComparison.Ordinal)
            ? "This copy was not repaired for this machine's libstdc++. Build the program with Accelerate.Sdk or a " +
              "reference to Accelerate.Runtime (their build repairs it), without AccelerateRepairLibTorch=false, and run it " +
              "from its build output; or run on a system whose libstdc++ has the version named above (GCC 13.2 or later)."
            : "Restore and build again so that the libtorch package for this OS (libtorch-cpu-linux-x64 on Linux) is copied " +
              "beside the program.";
        return $"TorchSharp could not load {library}: {loaderMessage}. {fix}";
    }

    private const string NativeFileName = "libLibTorchSharp.so";

    internal static string? FindLibTorchSharp()
    {
        var name = OperatingSystem.IsWindows() ? "LibTorchSharp.dll" : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : NativeFileName;
        var direct = Path.Combine(AppContext.BaseDirectory, name);
        if (File.Exists(direct)) return direct;
        var runtimes = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", name);
        if (File.Exists(runtimes)) return runtimes;
        var any = Path.Combine(AppContext.BaseDirectory, "runtimes");
        return Directory.Exists(any) ? Directory.EnumerateFiles(any, name, SearchOption.AllDirectories).FirstOrDefault() : null;
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
