using System.Reflection;

namespace Accelerate.Generators.Tests;

/// <summary>Paths the build baked into this assembly.</summary>
internal static class TestPaths
{
    public static string SampleDirectory => Metadata("SampleDirectory");
    public static string SampleAssembly => Path.Combine(SampleDirectory, "TrainingFunctionSample.dll");
    public static string CliAssembly => Metadata("CliAssembly");
    public static string SnapshotDirectory => Metadata("SnapshotDirectory");
    public static string RepoRoot => Metadata("RepoRoot");
    public static string Configuration => Metadata("Configuration");
    public static string GeneratorAssembly => Path.Combine(RepoRoot, "src", "Accelerate.Generators", "bin", Configuration, "netstandard2.0", "Accelerate.Generators.dll");

    private static string Metadata(string key) =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"The test assembly has no {key}.");
}
