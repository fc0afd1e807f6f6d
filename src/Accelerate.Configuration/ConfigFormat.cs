namespace Accelerate.Configuration;

/// <summary>The syntax of a config file: JSON for <c>.json</c> files, YAML for anything else (as HF accelerate).</summary>
public enum ConfigFormat
{
    /// <summary>YAML (what <c>accelerate config</c> writes).</summary>
    Yaml,
    /// <summary>JSON.</summary>
    Json,
}
