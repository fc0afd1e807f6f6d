using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Accelerate.Configuration.Writing;

/// <summary>Writes a config tree as block YAML that PyYAML (HF accelerate) reads back to the same values.</summary>
internal static partial class YamlConfigWriter
{
    public static string Write(IReadOnlyDictionary<string, object?> document)
    {
        var text = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(text);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        WriteValue(emitter, document);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static void WriteValue(IEmitter emitter, object? value)
    {
        switch (value)
        {
            case null: Plain(emitter, "null"); break;
            case bool flag: Plain(emitter, flag ? "true" : "false"); break;
            case int or long: Plain(emitter, Convert.ToString(value, CultureInfo.InvariantCulture)!); break;
            case double real: Plain(emitter, Real(real)); break;
            case string text:
                emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text,
                    LooksTyped(text) ? ScalarStyle.SingleQuoted : ScalarStyle.Any, isPlainImplicit: true, isQuotedImplicit: true));
                break;
            case IReadOnlyDictionary<string, object?> mapping:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, mapping.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, item) in mapping.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    WriteValue(emitter, key);
                    WriteValue(emitter, item);
                }
                emitter.Emit(new MappingEnd());
                break;
            case IEnumerable<object?> list:
                var items = list.ToList();
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, items.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in items) WriteValue(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            default: throw new ArgumentException($"A config value of type {value.GetType().Name} cannot be written.");
        }
    }

    private static void Plain(IEmitter emitter, string text) =>
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));

    private static string Real(double value)
    {
        if (double.IsNaN(value)) return ".nan";
        if (double.IsInfinity(value)) return value > 0 ? ".inf" : "-.inf";
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.') || text.Contains('E') ? text : text + ".0";
    }

    /// <summary>Strings that YAML 1.1 (PyYAML) would read as something else when unquoted: NO, yes, 1.5, null, ….</summary>
    private static bool LooksTyped(string text) => text.Length == 0 || TypedScalar().IsMatch(text);

    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL"
        + @"|[-+]?[0-9][0-9_,:]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+"
        + @"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|\d{4}-\d\d?-\d\d?.*|[<=])$")]
    private static partial Regex TypedScalar();
}
