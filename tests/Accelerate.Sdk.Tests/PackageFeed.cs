using System.Reflection;

namespace Accelerate.Sdk.Tests;

/// <summary>
/// Once per test run: every package packed into a temporary feed under a version of its own (so the
/// NuGet cache never serves a stale copy), and a folder whose nuget.config adds that feed to the
/// user's sources — libtorch keeps coming from the global packages folder. User projects live below it.
/// </summary>
[TestClass]
public static class PackageFeed
{
    public static string Version { get; private set; } = "";

    /// <summary>The folder user projects are created in: its nuget.config and global.json apply to them.</summary>
    public static string Workspace { get; private set; } = "";

    public static string FeedDirectory => Path.Combine(Workspace, "feed");

    public static string RepoRoot => Metadata("RepoRoot");

    public static string Configuration => Metadata("Configuration");

    /// <summary>The projects packed into the feed, one package each.</summary>
    public static readonly string[] PackedProjects =
    [
        "src/Accelerate.Sdk/Accelerate.Sdk.csproj",
        "src/Accelerate.Runtime/Accelerate.Runtime.csproj",
        "src/Accelerate.Build.Tasks/Accelerate.Build.Tasks.csproj",
        "src/Accelerate.Templates/Accelerate.Templates.csproj",
        "src/Accelerate.Cli/Accelerate.Cli.csproj",
    ];

    [AssemblyInitialize]
    public static void PackEverything(TestContext _)
    {
        Version = $"0.0.1-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        Workspace = Directory.CreateTempSubdirectory("accelerate-sdk-tests-").FullName;
        // No accelerate config file of this machine's user may leak into the projects built here.
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(Workspace, "hf-home"));
        LocalPackageFeed.Pack(RepoRoot, Configuration, FeedDirectory, Version, PackedProjects);
        LocalPackageFeed.WriteNuGetConfig(Workspace, FeedDirectory);
        // For projects that say only Sdk="Accelerate.Sdk".
        File.WriteAllText(Path.Combine(Workspace, "global.json"), $$"""
            { "msbuild-sdks": { "Accelerate.Sdk": "{{Version}}" } }
            """);
    }

    [AssemblyCleanup]
    public static void DeleteEverything()
    {
        if (Workspace.Length > 0 && Directory.Exists(Workspace)) Directory.Delete(Workspace, recursive: true);
        LocalPackageFeed.RemoveFromPackagesFolder(Version, "accelerate.sdk", "accelerate.runtime", "accelerate.build.tasks", "accelerate.templates", "accelerate.cli");
    }

    /// <summary>Creates a project folder under the workspace with the given files (path relative to the folder → content).</summary>
    public static string CreateProject(string name, params (string Path, string Content)[] files)
    {
        var directory = Path.Combine(Workspace, name);
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(directory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
        return directory;
    }

    /// <summary>Creates a program on the SDK (<paramref name="sdk"/>: the Sdk attribute) without the runtime: it only reads the launch environment.</summary>
    public static string CreateEnvironmentProbe(string name, string program, string sdk = "Accelerate.Sdk") =>
        CreateProject(name,
            ($"{name}.csproj", $$"""
                <Project Sdk="{{sdk}}">
                  <PropertyGroup>
                    <AccelerateReferencesRuntime>false</AccelerateReferencesRuntime>
                  </PropertyGroup>
                </Project>
                """),
            ("Program.cs", program));

    private static string Metadata(string key) =>
        typeof(PackageFeed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
