namespace Accelerate.Cli.Launch;

/// <summary>How one rank ended.</summary>
/// <param name="Rank">Global rank.</param>
/// <param name="LocalRank">Rank on this machine.</param>
/// <param name="Pid">Its process id.</param>
/// <param name="ExitCode">Exit code; 128 + N when signal N ended it.</param>
/// <param name="Time">When the launcher saw it end.</param>
/// <param name="StderrTail">Its last stderr lines.</param>
/// <param name="ErrorFile">Its TORCHELASTIC_ERROR_FILE.</param>
internal sealed record RankExit(int Rank, int LocalRank, int Pid, int ExitCode, DateTimeOffset Time, IReadOnlyList<string> StderrTail, string ErrorFile)
{
    /// <summary>"exit code 3" or "signal 9 (SIGKILL)".</summary>
    public string Describe() => Posix.SignalOf(ExitCode) is { } signal
        ? $"signal {signal} ({Posix.SignalName(signal)})"
        : $"exit code {ExitCode}";
}
