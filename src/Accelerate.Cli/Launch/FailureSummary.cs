using System.Text;

namespace Accelerate.Cli.Launch;

/// <summary>The report printed when ranks fail, modelled on torchrun's ChildFailedError, with the real error shown.</summary>
internal static class FailureSummary
{
    /// <summary>Formats the failures (first = root cause), the ranks stopped because of them, and the restarts used.</summary>
    public static string Format(string programName, IReadOnlyList<RankExit> failures, IReadOnlyList<int> stoppedRanks, int restartsUsed, int maxRestarts)
    {
        var rule = new string('=', 60);
        var text = new StringBuilder();
        text.AppendLine(rule);
        text.AppendLine($"{programName} FAILED");
        text.AppendLine(new string('-', 60));
        for (var i = 0; i < failures.Count; i++)
        {
            text.AppendLine(i == 0 ? "Root Cause (first observed failure):" : i == 1 ? "Other Failures:" : "");
            Append(text, failures[i]);
        }
        if (stoppedRanks.Count > 0)
            text.AppendLine($"Stopped by the launcher: rank{(stoppedRanks.Count > 1 ? "s" : "")} {string.Join(", ", stoppedRanks)}");
        text.AppendLine($"Restarts: {restartsUsed} of {maxRestarts} used");
        text.Append(rule);
        return text.ToString();
    }

    private static void Append(StringBuilder text, RankExit failure)
    {
        var record = ErrorRecord.TryRead(failure.ErrorFile);
        text.AppendLine($"[{failure.Rank}]:");
        text.AppendLine($"  time      : {failure.Time:yyyy-MM-dd_HH:mm:ss}");
        text.AppendLine($"  host      : {Environment.MachineName}");
        text.AppendLine($"  rank      : {failure.Rank} (local_rank: {failure.LocalRank})");
        text.AppendLine($"  exitcode  : {failure.Describe()} (pid: {failure.Pid})");
        text.AppendLine($"  error_file: {(record is null ? "<N/A>" : failure.ErrorFile)}");
        if (record is not null)
        {
            text.AppendLine($"  error     : {record.Message}");
            if (record.Stack is { Length: > 0 } stack) AppendBlock(text, "  traceback :", stack.Split('\n'));
        }
        if (failure.StderrTail.Count > 0)
            AppendBlock(text, $"  stderr (last {failure.StderrTail.Count} lines):", failure.StderrTail);
        else
            text.AppendLine("  stderr    : <empty>");
    }

    private static void AppendBlock(StringBuilder text, string heading, IEnumerable<string> lines)
    {
        text.AppendLine(heading);
        foreach (var line in lines) text.AppendLine("    " + line.TrimEnd('\r'));
    }
}
