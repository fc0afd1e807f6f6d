using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Accelerate.Build.Native;

/// <summary>Finds the file the dynamic loader would pick for a soname, in the loader's order.</summary>
public static class SystemLibraryLocator
{
    /// <summary>Returns the path of <paramref name="soname"/> on this machine, or null.</summary>
    public static string? Find(string soname)
    {
        foreach (var dir in SearchDirectories())
        {
            var candidate = System.IO.Path.Combine(dir, soname);
            if (File.Exists(candidate)) return candidate;
        }
        return FromLoaderCache(soname);
    }

    /// <summary>The version names that <paramref name="soname"/> defines here, or null if it is not found.</summary>
    public static IReadOnlyCollection<string>? DefinedVersions(string soname)
    {
        var path = Find(soname);
        return path is null ? null : ElfFile.Read(path).VersionDefinitions;
    }

    private static IEnumerable<string> SearchDirectories()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        if (!string.IsNullOrEmpty(fromEnvironment))
            foreach (var dir in fromEnvironment.Split(':', StringSplitOptions.RemoveEmptyEntries))
                yield return dir;

        var triple = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.Arm64 => "aarch64-linux-gnu",
            _ => "x86_64-linux-gnu",
        };
        yield return $"/lib/{triple}";
        yield return $"/usr/lib/{triple}";
        yield return "/lib64";
        yield return "/usr/lib64";
        yield return "/lib";
        yield return "/usr/lib";
    }

    private static string? FromLoaderCache(string soname)
    {
        foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig" })
        {
            if (!File.Exists(ldconfig)) continue;
            try
            {
                using var process = Process.Start(new ProcessStartInfo(ldconfig, "-p")
                {
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                })!;
                var output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                foreach (var line in output.Split('\n'))
                {
                    var trimmed = line.Trim();
                    if (!trimmed.StartsWith(soname + " ", StringComparison.Ordinal)) continue;
                    var arrow = trimmed.IndexOf("=> ", StringComparison.Ordinal);
                    if (arrow > 0) return trimmed[(arrow + 3)..].Trim();
                }
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
            {
                // No usable loader cache: the directory search above is all we have.
            }
        }
        return null;
    }
}
