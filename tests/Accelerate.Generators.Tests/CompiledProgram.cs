using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Tests;

/// <summary>
/// A program compiled in the test, run as a real process. It is emitted under the sample's
/// assembly name into a folder that links to the sample's dependencies (runtime, TorchSharp,
/// libtorch), so the sample's deps.json and runtimeconfig.json serve it too.
/// </summary>
internal static class CompiledProgram
{
    private const string AssemblyName = "TrainingFunctionSample";

    public static string Emit(Compilation compilation, string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var entry in Directory.EnumerateFileSystemEntries(TestPaths.SampleDirectory))
        {
            var name = Path.GetFileName(entry);
            if (name.StartsWith(AssemblyName + ".", StringComparison.Ordinal) && !name.EndsWith(".json", StringComparison.Ordinal)) continue;
            if (name == AssemblyName) continue; // the apphost
            File.CreateSymbolicLink(Path.Combine(directory, name), entry);
        }
        var path = Path.Combine(directory, AssemblyName + ".dll");
        var result = compilation.WithAssemblyName(AssemblyName).Emit(path);
        if (!result.Success)
            Assert.Fail("The program did not compile:\n" + string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        return path;
    }
}
