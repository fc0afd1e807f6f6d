namespace Accelerate.Cli.Launch;

/// <summary>
/// The launcher's console: rank lines prefixed <c>[rank N]</c>, its own lines prefixed <c>[accelerate]</c>,
/// each written whole under one lock so lines never interleave mid-line.
/// </summary>
internal sealed class LauncherConsole(bool quiet)
{
    private readonly Lock _gate = new();
    private readonly TextWriter _out = Console.Out;
    private readonly TextWriter _error = Console.Error;

    /// <summary>Prefix of the launcher's own lines.</summary>
    public const string Prefix = "[accelerate] ";

    /// <summary>A line from a rank, to stdout or stderr like the rank wrote it.</summary>
    public void RankLine(int rank, string line, bool isError)
    {
        lock (_gate)
        {
            // A reader that went away (`accelerate launch ... | head`) must not take the launcher down with its ranks.
            try { (isError ? _error : _out).WriteLine($"[rank {rank}] {line}"); }
            catch (IOException) { }
        }
    }

    /// <summary>An informational launcher line (hidden by <c>--quiet</c>), on stderr so program output stays clean.</summary>
    public void Info(string text)
    {
        if (!quiet) Error(text);
    }

    /// <summary>A launcher line that always shows (errors, the failure summary), each line prefixed.</summary>
    public void Error(string text)
    {
        lock (_gate)
            foreach (var line in text.Split('\n'))
                _error.WriteLine(Prefix + line.TrimEnd('\r'));
    }
}
