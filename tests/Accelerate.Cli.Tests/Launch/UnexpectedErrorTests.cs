namespace Accelerate.Cli.Tests.Launch;

/// <summary>An error nobody foresaw still ends the launcher with one line and a code; --debug shows the details.</summary>
[TestClass]
public sealed class UnexpectedErrorTests
{
    /// <summary>A --tee log path taken by a folder: the launcher cannot open the log, which no check anticipates.</summary>
    private static LauncherRun LaunchOverAFolderNamedLikeTheLog(string logs, params string[] extra)
    {
        Directory.CreateDirectory(Path.Combine(logs, "r", "attempt_0", "0", "stdout.log"));
        return LauncherRun.Start([.. extra, "--num_processes", "1", "--cpu", "--tee", "1", "--log_dir", logs, "--rdzv_id", "r", "sh", "-c", "echo hi"]);
    }

    [TestMethod]
    public void An_unexpected_exception_is_one_line_with_ACC3051_and_no_stack_trace()
    {
        var logs = Directory.CreateTempSubdirectory("accelerate-logs-");
        try
        {
            using var run = LaunchOverAFolderNamedLikeTheLog(logs.FullName);
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);

            var error = run.Stderr.Single(l => !l.StartsWith("[accelerate]", StringComparison.Ordinal));
            StringAssert.StartsWith(error, "accelerate: error ACC3051: ");
            StringAssert.Contains(error, "stdout.log", "the message of the exception");
            StringAssert.Contains(error, "--debug");
            Assert.IsFalse(run.Stderr.Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)), run.AllOutput);
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void With_debug_the_stack_trace_follows_the_line()
    {
        var logs = Directory.CreateTempSubdirectory("accelerate-logs-");
        try
        {
            using var run = LaunchOverAFolderNamedLikeTheLog(logs.FullName, "--debug");
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);

            run.WaitForLine(l => l.StartsWith("accelerate: error ACC3051: ", StringComparison.Ordinal));
            Assert.IsTrue(run.Stderr.Any(l => l.TrimStart().StartsWith("at Accelerate.Cli.", StringComparison.Ordinal)), run.AllOutput);
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }
}
