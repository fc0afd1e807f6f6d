using System.Reflection;

namespace Accelerate.Build.Tests;

/// <summary>Paths baked in at build time: the restored TorchSharp package and the repository.</summary>
internal static class TestPaths
{
    public static string TorchSharpPackageRoot => Metadata("TorchSharpPackageRoot");

    public static string RepoRoot => Metadata("RepoRoot");

    /// <summary>libLibTorchSharp.so exactly as the package ships it.</summary>
    public static string PackagedLibTorchSharp =>
        Path.Combine(TorchSharpPackageRoot, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    private static string Metadata(string key) =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
