namespace Accelerate.Configuration.Reading;

/// <summary>A value of a config file with its 1-based position, the same for YAML and JSON input.</summary>
internal abstract record ConfigNode(int Line, int Column);

/// <summary>A scalar. <paramref name="Quoted"/> is true for quoted YAML scalars and JSON strings: they are never null, bool or number.</summary>
internal sealed record ScalarNode(string Text, bool Quoted, int Line, int Column) : ConfigNode(Line, Column)
{
    private static readonly string[] NullWords = ["", "~", "null", "Null", "NULL"];

    public bool IsNull => !Quoted && NullWords.Contains(Text);

    /// <summary>YAML 1.1 booleans, as PyYAML reads them (HF files are written by PyYAML), in any letter case.</summary>
    public bool? AsBool() => Text.Trim().ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        _ => null,
    };

    /// <summary>The value with YAML's plain-scalar typing: null, bool, integer, float, or the text.</summary>
    public object? ToPlainValue()
    {
        if (Quoted) return Text;
        if (IsNull) return null;
        if (Text is "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON"
            or "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF") return AsBool();
        if (long.TryParse(Text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var integer)) return integer;
        if (System.Text.RegularExpressions.Regex.IsMatch(Text, @"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
            && double.TryParse(Text, System.Globalization.CultureInfo.InvariantCulture, out var real)) return real;
        return Text;
    }
}

/// <summary>A mapping, keys in file order.</summary>
internal sealed record MappingNode(IReadOnlyList<(ScalarNode Key, ConfigNode Value)> Entries, int Line, int Column) : ConfigNode(Line, Column);

/// <summary>A sequence.</summary>
internal sealed record SequenceNode(IReadOnlyList<ConfigNode> Items, int Line, int Column) : ConfigNode(Line, Column);
