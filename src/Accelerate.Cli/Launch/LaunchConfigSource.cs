namespace Accelerate.Cli.Launch;

/// <summary>Finds and reads the config file a launch uses.</summary>
internal static class LaunchConfigSource
{
    /// <summary>The config a launch uses, or null when none applies.</summary>
    public static ConfigValues? Load(string? configFile, bool cpu)
    {
        if (configFile is null) return null;
        throw new LaunchException("ACC3010", $"--config_file {configFile}: reading config files is not available in this build; pass the settings as options.");
    }
}
