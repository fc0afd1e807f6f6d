namespace Accelerate.Build.Validation;

/// <summary>
/// The top-level <c>key: value</c> lines of an accelerate config file, with their line numbers, so that
/// build errors about a value from the file can point at the line that sets it.
/// </summary>
public sealed class ConfigFileScalars
{
    private readonly Dictionary<string, (string Value, int Line)> _values;

    private ConfigFileScalars(string path, Dictionary<string, (string Value, int Line)> values)
    {
        Path = path;
        _values = values;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Reads the unindented scalar keys of a YAML file, or the top-level string/number/bool members of a JSON file.</summary>
    public static ConfigFileScalars Read(string path)
    {
        var values = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        var lines = File.ReadAllLines(path);
        var json = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (json) line = line.Trim().TrimEnd(',');
            else if (line.Length == 0 || char.IsWhiteSpace(line[0]) || line[0] is '#' or '-') continue;
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var key = line[..colon].Trim().Trim('"');
            var value = StripComment(line[(colon + 1)..]).Trim().Trim('"', '\'');
            if (key.Length > 0 && !values.ContainsKey(key)) values[key] = (value, i + 1);
        }
        return new ConfigFileScalars(path, values);
    }

    /// <summary>The raw value of <paramref name="key"/> and its line, or null when the file does not set it (or sets it to null).</summary>
    public (string Value, int Line)? Get(string key) =>
        _values.TryGetValue(key, out var v) && v.Value is not ("" or "null" or "~" or "{}") ? v : null;

    private static string StripComment(string value)
    {
        var hash = value.IndexOf(" #", StringComparison.Ordinal);
        return hash < 0 ? value : value[..hash];
    }
}
