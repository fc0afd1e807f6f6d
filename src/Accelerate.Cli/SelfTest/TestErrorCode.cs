namespace Accelerate.Cli.SelfTest;

/// <summary>Stable codes of <c>accelerate test</c> errors (ACC3100–3109), listed in docs/diagnostics.md.</summary>
internal static class TestErrorCode
{
    /// <summary>The distributed test ran and failed: a launch error or a failed check.</summary>
    public const string TestFailed = "ACC3100";
    /// <summary>The built-in test program could not be built on this machine.</summary>
    public const string BuildFailed = "ACC3101";
}
