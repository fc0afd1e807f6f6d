using System.Diagnostics;
using System.Reflection;
using Accelerate.Cli.Launch;

namespace Accelerate.Cli.SelfTest;

/// <summary>
/// <c>accelerate test [--config_file PATH] [launch options]</c>: HF's sanity check. Launches a built-in
/// program with the launch settings <c>accelerate launch</c> would use (the config file, then the
/// options given), which checks the rendezvous, every collective and a few training steps against one
/// process, and says plainly whether this machine (or these machines) is set up right.
/// </summary>
/// <remarks>
/// The test program ships as source inside the tool and is built here, on first use, against the
/// Accelerate.Sdk of the tool's version: the tool stays small (no 600 MB libtorch, no runtime that
/// <c>accelerate launch</c> would have to load) and the test runs exactly the pieces a user's build
/// brings, libtorch repair included.
/// </remarks>
internal static class TestCommand
{
    private const string ProjectName = "AccelerateSelfTest";

    public static int Run(string[] args)
    {
        if (args.Contains("-h") || args.Contains("--help"))
        {
            Console.Out.WriteLine("""
                usage: accelerate test [--config_file PATH] [launch options]

                Runs a built-in distributed test (rendezvous, every collective, a few training steps
                compared against one process) with the launch settings of the config file (default:
                the one `accelerate launch` reads) and any `accelerate launch` options given, and says
                whether this machine is set up right. Exit code 0 when it is.
                """);
            return 0;
        }

        Console.Error.WriteLine("[accelerate] building the test program (once per version) ...");
        var (built, program, output) = Build(WriteProject());
        if (!built)
        {
            Console.Error.WriteLine($"accelerate test: error {TestErrorCode.BuildFailed}: the built-in test program could not be built on this machine, " +
                $"so the test did not run. It needs the Accelerate.Sdk {SdkVersion} package (and TorchSharp, libtorch) from your NuGet feeds, " +
                $"as a training project does: check that `dotnet build` of a project using <Project Sdk=\"Accelerate.Sdk/{SdkVersion}\"> works here.\n{output}".TrimEnd());
            return 1;
        }

        var exit = LaunchCommand.Run([.. args, program]);
        if (exit == 0)
        {
            Console.Out.WriteLine("accelerate test: success: this machine is set up right for these launch settings.");
            return 0;
        }
        Console.Error.WriteLine($"accelerate test: error {TestErrorCode.TestFailed}: the distributed test failed (exit code {exit}): this machine is not set up right for " +
            "these launch settings. Fix what the lines above name (an ACC code from the launcher, or a check marked FAILED) and run `accelerate test` again.");
        return exit;
    }

    /// <summary>Builds the test project; returns the program's path, or the build's output when it failed.</summary>
    private static (bool Built, string Program, string Output) Build(string folder)
    {
        var start = new ProcessStartInfo(ProgramCommand.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "build", folder, "-nologo", "-v:q", "-t:Build", "-getProperty:TargetPath" }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var target = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        var built = process.ExitCode == 0 && File.Exists(target);
        return (built, target, output + errors.Result);
    }

    /// <summary>
    /// The Accelerate.Sdk version the test program is built against: the tool's own package version. A package may be
    /// packed from a build of another version (dotnet pack --no-build -p:PackageVersion=...), so the version comes from
    /// where the tool was installed from — the Accelerate.Sdk package folder around the launcher it ships, or the
    /// .NET tool's nuspec — and only otherwise from the assembly.
    /// </summary>
    private static string SdkVersion => PackagedSdk is not null
        ? new DirectoryInfo(Path.Combine(PackagedSdk, "..")).Name
        : ToolPackageVersion() ?? (typeof(TestCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.1.0").Split('+')[0];

    /// <summary>
    /// The Sdk folder of the Accelerate.Sdk package when this is the launcher it ships (tools/launcher/accelerate.dll):
    /// the test program imports it directly, the very SDK the user's projects get.
    /// </summary>
    private static string? PackagedSdk =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Sdk")) is var sdk &&
        File.Exists(Path.Combine(sdk, "Sdk.props")) && File.Exists(Path.Combine(sdk, "Accelerate.Sdk.Versions.props")) ? sdk : null;

    /// <summary>The version in the Accelerate.Cli nuspec above this assembly, where dotnet tool install put the package (.store/accelerate.cli/V/accelerate.cli/V/).</summary>
    private static string? ToolPackageVersion()
    {
        try
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                // NuGet keeps the nuspec under the package id's own spelling (Accelerate.Cli.nuspec).
                var nuspec = folder.EnumerateFiles("*.nuspec").FirstOrDefault(f => f.Name.Equals("accelerate.cli.nuspec", StringComparison.OrdinalIgnoreCase));
                if (nuspec is null) continue;
                var version = System.Xml.Linq.XDocument.Load(nuspec.FullName).Descendants().FirstOrDefault(e => e.Name.LocalName == "version")?.Value.Trim();
                return version is { Length: > 0 } ? version : null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException or System.Xml.XmlException)
        {
            // An unreadable folder or nuspec: the assembly's version stands.
        }
        return null;
    }

    /// <summary>
    /// Writes the test project under <c>$XDG_CACHE_HOME/accelerate/selftest/VERSION</c> (default
    /// <c>~/.cache</c>) and returns its folder. <c>ACCELERATE_SELF_TEST_SDK</c> names the folder of
    /// Sdk.props/Sdk.targets to import instead of the package, to test a source checkout; the launcher inside
    /// Accelerate.Sdk imports its own package's.
    /// </summary>
    private static string WriteProject()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var folder = Path.Combine(cache, "accelerate", "selftest", SdkVersion);
        Directory.CreateDirectory(folder);
        var sdk = Environment.GetEnvironmentVariable("ACCELERATE_SELF_TEST_SDK") is { Length: > 0 } given ? given : PackagedSdk;
        var project = sdk is not null
            ? $"""
              <Project>
                <Import Project="{Path.GetFullPath(Path.Combine(sdk, "Sdk.props"))}" />
                <Import Project="{Path.GetFullPath(Path.Combine(sdk, "Sdk.targets"))}" />
              </Project>
              """
            : $"""<Project Sdk="Accelerate.Sdk/{SdkVersion}" />""";
        WriteIfChanged(Path.Combine(folder, ProjectName + ".csproj"), project);
        using var source = typeof(TestCommand).Assembly.GetManifestResourceStream("SelfTest.cs")
            ?? throw new InvalidOperationException("the tool lacks its test program (resource SelfTest.cs); reinstall it");
        WriteIfChanged(Path.Combine(folder, "SelfTest.cs"), new StreamReader(source).ReadToEnd());
        return folder;
    }

    /// <summary>Leaves an unchanged file alone, so that the second run builds nothing.</summary>
    private static void WriteIfChanged(string path, string text)
    {
        if (!File.Exists(path) || File.ReadAllText(path) != text) File.WriteAllText(path, text);
    }
}
