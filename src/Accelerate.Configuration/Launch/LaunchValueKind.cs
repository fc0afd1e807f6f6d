namespace Accelerate.Configuration.Launch;

/// <summary>What a launch setting's value is; the build-time checks and the launcher's help follow from it.</summary>
public enum LaunchValueKind
{
    /// <summary>A flag: given alone (<c>--cpu</c>) or as <c>true</c>/<c>false</c>.</summary>
    Flag,
    /// <summary>A whole number, 1 or more.</summary>
    Count,
    /// <summary>A whole number, 0 or more.</summary>
    Index,
    /// <summary>A TCP port, 0 to 65535 (0 picks a free one).</summary>
    Port,
    /// <summary>An IP address or host name.</summary>
    Host,
    /// <summary>One of <see cref="LaunchSetting.AllowedValues"/>.</summary>
    Choice,
    /// <summary><c>all</c> or a comma-separated list of GPU indexes.</summary>
    GpuIds,
    /// <summary>The name of a <c>[TrainingFunction]</c>: no spaces or quotes.</summary>
    Name,
    /// <summary>A number of seconds, fractions allowed.</summary>
    Seconds,
    /// <summary>A file or folder path.</summary>
    Path,
    /// <summary>Free text the launcher interprets itself.</summary>
    Text,
}
