using Accelerate.Configuration;

namespace Accelerate.Cli.Launch;

/// <summary>Finds and reads the config file a launch uses, as HF accelerate does (see <see cref="ConfigFile.LoadForLaunch"/>).</summary>
internal static class LaunchConfigSource
{
    /// <summary>The config a launch uses, or null when none applies (no <c>--config_file</c> and no default file).</summary>
    public static LoadedConfig? Load(string? configFile, bool cpu, Func<string, string?> environment)
    {
        try
        {
            return ConfigFile.LoadForLaunch(configFile, cpu, environment);
        }
        catch (ConfigFileException e)
        {
            // The message already names the file, line and key, with its own code.
            throw new LaunchException(e.Code, e.Message);
        }
    }
}
