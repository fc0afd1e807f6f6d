using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Accelerate.Configuration.Reading;

/// <summary>Reads YAML into <see cref="ConfigNode"/>s, keeping positions. Only the first document counts.</summary>
internal static class YamlNodeReader
{
    /// <summary>The root node, or null for an empty document.</summary>
    /// <remarks>
    /// An alias shares its anchor's node instead of copying it, but everything that walks the tree (binding, writing
    /// the file back) sees it expanded; so the expanded size is what is budgeted (<see cref="ReadingLimits"/>).
    /// </remarks>
    public static ConfigNode? Read(string text, string path)
    {
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _)) return null;
            parser.Consume<DocumentStart>();
            if (parser.Accept<DocumentEnd>(out _)) return null;
            return new Reader(parser, path).ReadNode(depth: 0);
        }
        catch (YamlException e) when (e is not null)
        {
            var start = e.Start;
            throw new ConfigFileException(new ConfigFileError(
                ConfigErrorCode.Syntax, path, (int)start.Line, (int)start.Column, null,
                $"not valid YAML: {Describe(e)}. Fix the syntax (indent with spaces, `key: value` per line)."), e);
        }
    }

    private static string Describe(YamlException e)
    {
        // YamlDotNet prefixes its messages with the position, which the error already shows.
        var message = e.Message;
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        return (marker >= 0 && message.StartsWith("(", StringComparison.Ordinal) ? message[(marker + 3)..] : message).TrimEnd('.');
    }

    /// <summary>One document's reading: its anchors and the running totals of the expanded tree.</summary>
    private sealed class Reader(IParser parser, string path)
    {
        private readonly Dictionary<string, (ConfigNode Node, long Values, long Characters)> _anchors = [];
        private long _values;
        private long _characters;
        private int _aliases;

        public ConfigNode ReadNode(int depth)
        {
            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                    throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, Line(alias), Column(alias), null,
                        $"not valid YAML: the alias *{alias.Value} refers to no anchor defined before it."));
                if (++_aliases > ReadingLimits.MaxAliases)
                    throw Budget(alias, $"more than {ReadingLimits.MaxAliases} alias references (*name)");
                _values += target.Values;
                _characters += target.Characters;
                CheckExpansion(alias);
                return target.Node;
            }

            var valuesBefore = _values;
            var charactersBefore = _characters;
            ConfigNode node;
            string? anchor;
            if (parser.TryConsume<Scalar>(out var scalar))
            {
                anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
                node = new ScalarNode(scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded,
                    Line(scalar), Column(scalar));
                _values++;
                _characters += scalar.Value.Length;
                CheckExpansion(scalar);
            }
            else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
            {
                CheckDepth(sequenceStart, depth);
                anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
                _values++;
                var items = new List<ConfigNode>();
                while (!parser.TryConsume<SequenceEnd>(out _)) items.Add(ReadNode(depth + 1));
                node = new SequenceNode(items, Line(sequenceStart), Column(sequenceStart));
            }
            else if (parser.TryConsume<MappingStart>(out var mappingStart))
            {
                CheckDepth(mappingStart, depth);
                anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
                _values++;
                var entries = new List<(ScalarNode, ConfigNode)>();
                var keys = new HashSet<string>(StringComparer.Ordinal);
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var keyNode = ReadNode(depth + 1);
                    if (keyNode is not ScalarNode key)
                        throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, keyNode.Line, keyNode.Column, null,
                            "a key must be a plain name, not a list or mapping."));
                    var value = ReadNode(depth + 1);
                    if (!keys.Add(key.Text))
                        throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, key.Line, key.Column, key.Text,
                            $"the key '{key.Text}' appears twice; keep one."));
                    entries.Add((key, value));
                }
                node = new MappingNode(entries, Line(mappingStart), Column(mappingStart));
            }
            else
            {
                var unexpected = parser.Current!;
                throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, Line(unexpected), Column(unexpected), null,
                    $"not valid YAML: unexpected {unexpected.GetType().Name}."));
            }
            if (anchor is not null) _anchors[anchor] = (node, _values - valuesBefore, _characters - charactersBefore);
            return node;
        }

        private void CheckDepth(ParsingEvent at, int depth)
        {
            if (depth >= ReadingLimits.MaxDepth)
                throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.NestingDepth, path, Line(at), Column(at), null,
                    $"values are nested more than {ReadingLimits.MaxDepth} levels deep here; a config file needs a few. Flatten the file, or remove what does not belong in it."));
        }

        private void CheckExpansion(ParsingEvent at)
        {
            if (_values > ReadingLimits.MaxExpandedValues)
                throw Budget(at, $"more than {ReadingLimits.MaxExpandedValues:N0} values once its aliases are expanded");
            if (_characters > ReadingLimits.MaxExpandedCharacters)
                throw Budget(at, $"more than {ReadingLimits.MaxExpandedCharacters >> 20} MiB of text once its aliases are expanded");
        }

        private ConfigFileException Budget(ParsingEvent at, string what) =>
            new(new ConfigFileError(ConfigErrorCode.AliasExpansion, path, Line(at), Column(at), null,
                $"the file has {what}, far more than any config file needs. Write the values out instead of repeating them through aliases (*name), and remove what does not belong in the file."));
    }

    private static int Line(ParsingEvent e) => (int)e.Start.Line;
    private static int Column(ParsingEvent e) => (int)e.Start.Column;
}
