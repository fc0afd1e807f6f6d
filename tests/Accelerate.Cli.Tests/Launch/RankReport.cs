using System.Text.Json;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>What one RankProbe rank printed with its <c>env</c> mode: its arguments and environment.</summary>
internal sealed record RankReport(IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env)
{
    public int Rank => int.Parse(Env["RANK"]);

    /// <summary>Reads every "[rank N] ENV {...}" line of a run, ordered by rank.</summary>
    public static List<RankReport> From(IEnumerable<string> lines) =>
        lines.Where(l => l.Contains("] ENV ", StringComparison.Ordinal))
            .Select(l =>
            {
                using var json = JsonDocument.Parse(l[(l.IndexOf("] ENV ", StringComparison.Ordinal) + 6)..]);
                var args = json.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToList();
                var env = json.RootElement.GetProperty("env").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
                return new RankReport(args, env);
            })
            .OrderBy(r => r.Rank)
            .ToList();
}
