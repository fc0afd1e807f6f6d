namespace Accelerate.Testing;

/// <summary>
/// The packages under test in a folder feed of their own: packed from the built projects under a
/// version of their own (so the NuGet cache never serves a stale copy), offered to test projects
/// through a nuget.config, and removed from the global packages folder afterwards.
/// </summary>
internal static class LocalPackageFeed
{
    /// <summary>
    /// Packs each project (already built in <paramref name="configuration"/>) into <paramref name="feed"/> as <paramref name="version"/>.
    /// Accelerate.Sdk is packed without its native launcher: compiling it (Native AOT) takes minutes, so only the tests
    /// of the native launcher build it, with <see cref="PackWithNativeLauncher"/>.
    /// </summary>
    public static void Pack(string repoRoot, string configuration, string feed, string version, params string[] projects) =>
        Pack(repoRoot, configuration, feed, version, TimeSpan.FromMinutes(4), ["-p:AcceleratePackNativeLauncher=false"], projects);

    /// <summary>Packs <paramref name="project"/> as <see cref="Pack(string, string, string, string, string[])"/> does, with the native launcher for this machine's RID.</summary>
    public static void PackWithNativeLauncher(string repoRoot, string configuration, string feed, string version, string project) =>
        Pack(repoRoot, configuration, feed, version, TimeSpan.FromMinutes(20), ["-p:AcceleratePackNativeLauncher=true"], [project]);

    private static void Pack(string repoRoot, string configuration, string feed, string version, TimeSpan timeout, string[] properties, string[] projects)
    {
        Directory.CreateDirectory(feed);
        foreach (var project in projects)
        {
            // The test project references these, so they are built already: pack without building again.
            var (exitCode, output) = DotNet.Run(repoRoot, timeout, null, ["pack", Path.Combine(repoRoot, project), "--no-build", "-c", configuration,
                "-o", feed, $"-p:PackageVersion={version}", "-nologo", .. properties]);
            if (exitCode != 0) throw new InvalidOperationException($"Packing {project} failed:\n{output}");
        }
    }

    /// <summary>Writes a nuget.config into <paramref name="directory"/> that adds <paramref name="feed"/> to the user's sources.</summary>
    public static void WriteNuGetConfig(string directory, string feed) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="accelerate-under-test" value="{feed}" />
              </packageSources>
            </configuration>
            """);

    /// <summary>Deletes what restores extracted of these packages at <paramref name="version"/> from the global packages folder.</summary>
    public static void RemoveFromPackagesFolder(string version, params string[] packageIds)
    {
        if (version.Length == 0) return;
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in packageIds)
        {
            var folder = Path.Combine(packages, id.ToLowerInvariant(), version.ToLowerInvariant());
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
