using System.Globalization;

namespace Accelerate;

/// <summary>
/// How the launch contract writes and reads its values: whole numbers and seconds in the invariant culture,
/// flags as <c>True</c>/<c>False</c> (read as true, 1 or yes in any letter case). Compiled into the launcher
/// and the runtime, so that both sides agree; each side names its own error code through <c>invalid</c>.
/// </summary>
internal static class LaunchValues
{
    /// <summary>A whole number as the contract writes it.</summary>
    public static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A flag as the contract writes it (<c>True</c>/<c>False</c>, as HF accelerate does).</summary>
    public static string Format(bool value) => value ? "True" : "False";

    /// <summary>
    /// The whole number in <paramref name="name"/>, or null when it is unset or blank. Anything else, or a
    /// number below <paramref name="minimum"/>, throws what <paramref name="invalid"/> makes of the name and text.
    /// </summary>
    public static int? Int(Func<string, string?> variables, string name, Func<string, string, Exception> invalid, int minimum = int.MinValue)
    {
        var text = variables(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= minimum) return value;
        throw invalid(name, text);
    }

    /// <summary>A positive number of seconds in <paramref name="name"/>, or null when it is unset or blank.</summary>
    public static TimeSpan? Seconds(Func<string, string?> variables, string name, Func<string, string, Exception> invalid)
    {
        var text = variables(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        // Below int.MaxValue milliseconds: the longest wait a CancellationTokenSource takes.
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds < int.MaxValue / 1000.0)
            return TimeSpan.FromSeconds(seconds);
        throw invalid(name, text);
    }

    /// <summary>True when <paramref name="name"/> is true, 1 or yes (any letter case); false when unset or anything else.</summary>
    public static bool Flag(Func<string, string?> variables, string name) => IsTrue(variables(name));

    /// <summary>True for true, 1 or yes (any letter case).</summary>
    public static bool IsTrue(string? text) =>
        text is not null && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1" || text.Equals("yes", StringComparison.OrdinalIgnoreCase));
}
