using System.Reflection;

namespace Accelerate.Configuration.Tests;

/// <summary>Files of this repository (docs, sources) that the catalogue tests hold against the code.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = typeof(RepositoryFiles).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!;

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(Path(relative));
}
