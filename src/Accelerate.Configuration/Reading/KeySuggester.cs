namespace Accelerate.Configuration.Reading;

/// <summary>Finds the known key closest to a misspelt one (edit distance, ties to the longer shared prefix).</summary>
internal static class KeySuggester
{
    public static string Closest(string unknown, IEnumerable<string> known) =>
        known.OrderBy(k => Distance(unknown.ToLowerInvariant().Replace('-', '_'), k))
             .ThenByDescending(k => SharedPrefix(unknown, k))
             .ThenBy(k => k, StringComparer.Ordinal)
             .First();

    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static int SharedPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }
}
