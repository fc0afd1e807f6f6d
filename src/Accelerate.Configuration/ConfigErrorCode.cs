namespace Accelerate.Configuration;

/// <summary>Stable codes of configuration errors (range ACC2400–2499).</summary>
public static class ConfigErrorCode
{
    /// <summary>An explicitly named config file does not exist.</summary>
    public const string FileNotFound = "ACC2400";
    /// <summary>The file is not valid YAML or JSON, or is empty.</summary>
    public const string Syntax = "ACC2401";
    /// <summary>A key that HF accelerate's <c>ClusterConfig</c> does not have.</summary>
    public const string UnknownKey = "ACC2402";
    /// <summary>A value of the wrong type, or not among the allowed values.</summary>
    public const string InvalidValue = "ACC2403";
    /// <summary>A value HF accelerate knows that this product does not support (e.g. <c>distributed_type: FSDP</c>).</summary>
    public const string NotSupported = "ACC2404";
    /// <summary>A required key is missing (<c>distributed_type</c>).</summary>
    public const string MissingKey = "ACC2405";
    /// <summary>The file could not be read or written.</summary>
    public const string Io = "ACC2406";
    /// <summary><c>accelerate config default</c> would overwrite an existing file.</summary>
    public const string AlreadyExists = "ACC2407";
    /// <summary>The questionnaire needs a terminal.</summary>
    public const string NoTerminal = "ACC2408";
    /// <summary>YAML aliases that are too many or would expand the file beyond the reading budget (an alias bomb).</summary>
    public const string AliasExpansion = "ACC2409";
    /// <summary>Values nested deeper than the reader allows.</summary>
    public const string NestingDepth = "ACC2410";
    /// <summary>A file larger than any config file needs to be.</summary>
    public const string FileTooLarge = "ACC2411";
}
