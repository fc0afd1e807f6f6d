namespace Accelerate.Configuration;

/// <summary>A config file that was read, and where it came from (for messages such as "num_processes = 2 (from /path)").</summary>
/// <param name="Path">The file read.</param>
/// <param name="Config">Its settings.</param>
public sealed record LoadedConfig(string Path, ClusterConfig Config);
