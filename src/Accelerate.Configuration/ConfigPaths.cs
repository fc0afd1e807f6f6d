namespace Accelerate.Configuration;

/// <summary>Where HF accelerate keeps its default config file. Takes the environment as a lookup so callers and tests choose it.</summary>
public static class ConfigPaths
{
    /// <summary>The default file's name.</summary>
    public const string DefaultFileName = "default_config.yaml";

    /// <summary>
    /// <c>$HF_HOME/accelerate/default_config.yaml</c>; else <c>$XDG_CACHE_HOME/huggingface/accelerate/default_config.yaml</c>;
    /// else <c>~/.cache/huggingface/accelerate/default_config.yaml</c>. A leading <c>~</c> is the home folder; empty variables count as unset.
    /// </summary>
    /// <param name="environment">Looks up an environment variable (pass <see cref="Environment.GetEnvironmentVariable(string)"/>).</param>
    public static string DefaultConfigFile(Func<string, string?> environment)
    {
        var hfHome = NonEmpty(environment("HF_HOME"));
        var cacheRoot = hfHome is not null
            ? ExpandHome(hfHome, environment)
            : Path.Combine(ExpandHome(NonEmpty(environment("XDG_CACHE_HOME")) ?? "~/.cache", environment), "huggingface");
        return Path.Combine(cacheRoot, "accelerate", DefaultFileName);
    }

    /// <summary>
    /// The file a launch reads, as HF accelerate: <paramref name="configFile"/> when given (it must exist); otherwise the
    /// default file when it exists and <paramref name="cpu"/> is false; otherwise null.
    /// </summary>
    /// <exception cref="ConfigFileException">The explicit file does not exist (<see cref="ConfigErrorCode.FileNotFound"/>).</exception>
    public static string? ForLaunch(string? configFile, bool cpu, Func<string, string?> environment)
    {
        if (configFile is not null)
        {
            var path = ExpandHome(configFile, environment);
            if (!File.Exists(path))
                throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.FileNotFound, path, 0, 0, null,
                    "the file passed to --config_file does not exist. Pass an existing file, or create one with `accelerate config --config_file " + configFile + "`."));
            return path;
        }
        var fallback = DefaultConfigFile(environment);
        return !cpu && File.Exists(fallback) ? fallback : null;
    }

    /// <summary>Replaces a leading <c>~</c> with <c>$HOME</c> (or the user profile folder when HOME is unset).</summary>
    public static string ExpandHome(string path, Func<string, string?> environment)
    {
        if (path != "~" && !path.StartsWith("~/", StringComparison.Ordinal)) return path;
        var home = NonEmpty(environment("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return path == "~" ? home : Path.Combine(home, path[2..]);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
