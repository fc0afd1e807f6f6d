using Accelerate.Build.Native;
using Accelerate.Configuration.Launch;
using Microsoft.Build.Framework;
using Task = Microsoft.Build.Utilities.Task;

namespace Accelerate.Build.Tasks;

/// <summary>
/// Makes TorchSharp's native library loadable on this Linux machine when the only thing keeping
/// the loader from accepting it is a symbol version bound to marker symbols (see
/// <see cref="VersionRepairPlan.KnownMarkerSymbols"/>). The package's file is never modified:
/// the repaired copy is written to <see cref="RepairedPath"/>.
/// </summary>
public sealed class RepairLibTorchSharp : Task
{
    /// <summary>The library as restored from its package.</summary>
    [Required] public ITaskItem Library { get; set; } = null!;

    /// <summary>Where the repaired copy goes (under the intermediate folder).</summary>
    [Required] public string RepairedPath { get; set; } = "";

    /// <summary>Records the decision (<c>repaired</c> or <c>unchanged</c>) so later builds skip the work.</summary>
    [Required] public string StampFile { get; set; } = "";

    /// <summary>Looks up the versions a soname defines on this machine; replaceable in tests.</summary>
    public Func<string, IReadOnlyCollection<string>?> FindDefinedVersions { get; set; } = SystemLibraryLocator.DefinedVersions;

    /// <inheritdoc />
    public override bool Execute()
    {
        var path = Library.ItemSpec;
        VersionRepairPlan plan;
        try
        {
            plan = VersionRepairPlan.Create(ElfFile.Read(path), FindDefinedVersions);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Log.LogError(null, BuildErrorCode.LibTorchSharpNotElf, null, path, 0, 0, 0, 0,
                "Cannot read {0} to check that it loads on this machine: {1} Restore the package again (delete its folder in the NuGet cache and run 'dotnet restore'), or set AccelerateRepairLibTorch=false to skip the check.",
                path, e.Message);
            return false;
        }

        foreach (var refusal in plan.Refusals)
        {
            var need = refusal.Requirement;
            var symbols = refusal.Symbols.Count == 0 ? "(no symbols)" : string.Join(", ", refusal.Symbols.Take(8)) + (refusal.Symbols.Count > 8 ? $" and {refusal.Symbols.Count - 8} more" : "");
            Log.LogError(null, BuildErrorCode.LibTorchSharpCannotLoad, null, path, 0, 0, 0, 0,
                "{0} needs {1} from {2}, which this machine's {2} ({3}) does not define. Symbols bound to it: {4}. These are real functions, so the library cannot be made to load here. Build and run on a system whose {2} defines {1} ({5}), or use a TorchSharp package built for this system.",
                Path.GetFileName(path), need.Version, need.File, SystemLibraryLocator.Find(need.File) ?? "not found", symbols, RequiredSystem(need.Version));
        }
        if (!plan.CanRepair) return false;

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(StampFile))!);
        if (!plan.IsNeeded)
        {
            File.WriteAllText(StampFile, "unchanged\n");
            Log.LogMessage(MessageImportance.Low, "{0} loads on this machine as it is.", path);
            return true;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(RepairedPath))!);
        var temporary = RepairedPath + ".tmp";
        File.WriteAllBytes(temporary, plan.Apply());
        File.Move(temporary, RepairedPath, overwrite: true);
        File.WriteAllText(StampFile, "repaired\n");
        foreach (var m in plan.Missing)
            Log.LogMessage(MessageImportance.Normal,
                "Repaired a copy of {0} for this machine: {1} needs {2}, which {3} here lacks; the only symbol bound to it is the marker {4}, so the requirement was marked weak in {5}.",
                Path.GetFileName(path), Path.GetFileName(path), m.Requirement.Version, m.Requirement.File, string.Join(", ", m.Symbols), RepairedPath);
        return true;
    }

    /// <summary>Names the system that provides a version, for the error's "what to do instead".</summary>
    internal static string RequiredSystem(string version)
    {
        var gcc = version switch
        {
            "GLIBCXX_3.4.29" => "GCC 11",
            "GLIBCXX_3.4.30" => "GCC 12, e.g. Debian 12 or Ubuntu 22.04",
            "GLIBCXX_3.4.31" => "GCC 13.1",
            "GLIBCXX_3.4.32" => "GCC 13.2 or later, e.g. Ubuntu 24.04 or Debian 13",
            "GLIBCXX_3.4.33" => "GCC 14, e.g. Debian 13",
            "GLIBCXX_3.4.34" => "GCC 15",
            _ => null,
        };
        if (gcc is not null) return "libstdc++ from " + gcc;
        if (version.StartsWith("GLIBC_", StringComparison.Ordinal)) return "glibc " + version["GLIBC_".Length..] + " or later";
        return "a newer version of that library";
    }
}
