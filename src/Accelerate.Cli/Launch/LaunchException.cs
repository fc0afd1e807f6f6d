namespace Accelerate.Cli.Launch;

/// <summary>A launch that cannot go ahead: bad input or an unusable machine. The message names the input and the fix.</summary>
/// <param name="code">Stable diagnostic code (ACC3xxx, see docs/launch.md).</param>
/// <param name="message">What is wrong and how to fix it.</param>
/// <param name="exitCode">Launcher exit code: 2 for bad usage, 1 otherwise.</param>
internal sealed class LaunchException(string code, string message, int exitCode = 2) : Exception(message)
{
    /// <summary>Stable diagnostic code.</summary>
    public string Code { get; } = code;

    /// <summary>Exit code of the launcher when this ends it.</summary>
    public int ExitCode { get; } = exitCode;
}
