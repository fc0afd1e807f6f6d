using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Accelerate.Build.Tests;

/// <summary>
/// What binutils' <c>readelf</c> and the loader cache (<c>ldconfig -p</c>) say about this machine's libraries:
/// an oracle for the tests that is independent of the ELF reader and library lookup under test.
/// </summary>
internal static partial class Readelf
{
    /// <summary>The path the loader cache gives for <paramref name="soname"/> on this machine's architecture.</summary>
    public static string LoaderCachePath(string soname)
    {
        var machine = Environment.Is64BitProcess ? "64" : "";
        var path = Run("ldconfig", "-p").Split('\n')
            .Where(line => line.TrimStart().StartsWith(soname + " ", StringComparison.Ordinal) && line.Contains(machine, StringComparison.Ordinal))
            .Select(line => line[(line.IndexOf("=>", StringComparison.Ordinal) + 2)..].Trim())
            .FirstOrDefault();
        Assert.IsNotNull(path, $"ldconfig -p lists no {soname}");
        return path;
    }

    /// <summary>The version names defined by the library at <paramref name="path"/> (its .gnu.version_d, without the BASE entry).</summary>
    public static HashSet<string> DefinedVersions(string path)
    {
        var output = Run("readelf", "-V", "--wide", path);
        var start = output.IndexOf("Version definition section", StringComparison.Ordinal);
        Assert.IsTrue(start >= 0, $"readelf shows no version definitions in {path}");
        var end = output.IndexOf("Version needs section", start, StringComparison.Ordinal);
        var section = end < 0 ? output[start..] : output[start..end];
        return DefinitionLine().Matches(section).Where(m => m.Groups[1].Value != "BASE").Select(m => m.Groups[2].Value).ToHashSet();
    }

    [GeneratedRegex(@"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)")]
    private static partial Regex DefinitionLine();

    private static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Inconclusive($"{program} is not installed; eng/install-prerequisites.sh installs binutils (readelf) and libc-bin (ldconfig).");
            throw;
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            Assert.AreEqual(0, process.ExitCode, $"{program} {string.Join(' ', arguments)}: {error.Result}");
            return output.Result;
        }
    }
}
