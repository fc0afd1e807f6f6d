using System.Reflection;

namespace Accelerate.Cli.Env;

/// <summary>Versions baked into this assembly at build time (see Accelerate.Cli.csproj).</summary>
internal static class BuildInfo
{
    private static readonly Assembly Assembly = typeof(BuildInfo).Assembly;

    /// <summary>The product version (informational version without the source revision suffix).</summary>
    public static string ProductVersion =>
        Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The TorchSharp package the product is built against.</summary>
    public static string TorchSharpVersion => Metadata("TorchSharpVersion");

    /// <summary>The libtorch package the product is built against.</summary>
    public static string LibTorchVersion => Metadata("LibTorchVersion");

    private static string Metadata(string key) =>
        Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value is { Length: > 0 } value ? value : "unknown";
}
