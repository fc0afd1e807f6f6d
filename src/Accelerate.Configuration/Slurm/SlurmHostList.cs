using System.Globalization;
using System.Text;

namespace Accelerate.Configuration.Slurm;

/// <summary>
/// Expands SLURM's compressed host lists (<c>SLURM_JOB_NODELIST</c>, <c>scontrol show hostnames</c>):
/// <c>node[01-04,07],gpu1.example.com</c> → node01 node02 node03 node04 node07 gpu1.example.com.
/// Follows Slurm 22.05: items are separated by commas outside brackets or by whitespace; a bracket group
/// holds <c>N</c> or <c>N-M</c> entries, zero-padded to the width of the low bound as written; several
/// groups in one name multiply (leftmost slowest); order and duplicates are kept. Forms Slurm rejects
/// (text after the last bracket, reversed or empty ranges, non-numbers) and forms it mangles (an
/// unterminated or stray bracket) are rejected here with a <see cref="FormatException"/> naming the item.
/// </summary>
/// <remarks>Compiled into both the configuration library (for the launcher) and the runtime (for ranks started by srun).</remarks>
internal static class SlurmHostList
{
    /// <summary>Most names one range may stand for, as in Slurm's <c>hostlist.c</c> (<c>MAX_RANGE</c>).</summary>
    public const int MaxRange = 64 * 1024;

    /// <summary>Most names a whole list may expand to, so that a hostile list cannot exhaust memory.</summary>
    public const int MaxHosts = 1024 * 1024;

    /// <summary>Every host of <paramref name="hostList"/>, in order. An empty or blank list has none.</summary>
    /// <exception cref="FormatException">The list is not valid host-list syntax; the message names the item and the rule.</exception>
    public static IReadOnlyList<string> Expand(string hostList)
    {
        ArgumentNullException.ThrowIfNull(hostList);
        var hosts = new List<string>();
        foreach (var item in Items(hostList))
            ExpandItem(item, hosts);
        return hosts;
    }

    /// <summary>The first host of <paramref name="hostList"/>, or null when it names none.</summary>
    /// <exception cref="FormatException">The list is not valid host-list syntax.</exception>
    public static string? First(string hostList)
    {
        // Validate the whole list, not only its head: a broken list is a broken environment.
        var hosts = Expand(hostList);
        return hosts.Count == 0 ? null : hosts[0];
    }

    private static IEnumerable<string> Items(string hostList)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i <= hostList.Length; i++)
        {
            var c = i < hostList.Length ? hostList[i] : ',';
            if (c == '[') depth++;
            else if (c == ']') depth = Math.Max(0, depth - 1);
            else if ((c == ',' && depth == 0) || char.IsWhiteSpace(c) || i == hostList.Length)
            {
                if (char.IsWhiteSpace(c) && depth > 0)
                    throw Invalid(hostList, "a bracket group holds only numbers, commas and dashes, without spaces");
                if (i > start) yield return hostList[start..i];
                start = i + 1;
            }
        }
    }

    private static void ExpandItem(string item, List<string> hosts)
    {
        // An item is literal text and bracket groups: "rack", [0-1], "_blade", [0-2].
        var parts = new List<string[]>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < item.Length)
        {
            var c = item[i];
            if (c == ']')
                throw Invalid(item, "']' without a matching '['");
            if (c != '[')
            {
                literal.Append(c);
                i++;
                continue;
            }
            var close = item.IndexOf(']', i + 1);
            if (close < 0)
                throw Invalid(item, "'[' is never closed with ']'");
            var group = item[(i + 1)..close];
            if (group.Contains('['))
                throw Invalid(item, "brackets cannot be nested");
            parts.Add([literal.ToString()]);
            literal.Clear();
            parts.Add(Numbers(item, group));
            i = close + 1;
        }
        if (literal.Length > 0)
        {
            if (parts.Count > 0)
                throw Invalid(item, $"text after the last bracket ('{literal}') is not allowed; a name must end with its numeric bracket (write the suffix out, e.g. n1-a,n2-a)");
            parts.Add([literal.ToString()]);
        }

        long total = 1;
        foreach (var part in parts) total *= part.Length;
        if (hosts.Count + total > MaxHosts)
            throw Invalid(item, $"it expands to more than {MaxHosts} hosts");

        var names = new List<string> { "" };
        foreach (var part in parts)
            names = names.SelectMany(prefix => part.Select(piece => prefix + piece)).ToList();
        hosts.AddRange(names);
    }

    private static string[] Numbers(string item, string group)
    {
        var numbers = new List<string>();
        foreach (var entry in group.Split(','))
        {
            var dash = entry.IndexOf('-');
            var low = dash < 0 ? entry : entry[..dash];
            var high = dash < 0 ? entry : entry[(dash + 1)..];
            if (!IsNumber(low) || !IsNumber(high))
                throw Invalid(item, $"'{entry}' in [{group}] is not a number N or a range N-M");
            var from = long.Parse(low, CultureInfo.InvariantCulture);
            var to = long.Parse(high, CultureInfo.InvariantCulture);
            if (to < from)
                throw Invalid(item, $"the range '{entry}' runs backwards; write the low bound first");
            if (to - from >= MaxRange)
                throw Invalid(item, $"the range '{entry}' stands for more than {MaxRange} hosts");
            // The width comes from the low bound as written: [01-10] pads, [1-10] does not.
            var format = "D" + low.Length.ToString(CultureInfo.InvariantCulture);
            for (var n = from; n <= to; n++)
                numbers.Add(n.ToString(format, CultureInfo.InvariantCulture));
        }
        return [.. numbers];
    }

    private static bool IsNumber(string text) => text.Length is > 0 and <= 18 && text.All(char.IsAsciiDigit);

    private static FormatException Invalid(string item, string rule) =>
        new($"'{item}' is not a valid SLURM host list: {rule}. Write hosts as name[N-M,K] (see `scontrol show hostnames`).");
}
