using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Accelerate.Configuration.Reading;

/// <summary>Reads YAML into <see cref="ConfigNode"/>s, keeping positions. Only the first document counts.</summary>
internal static class YamlNodeReader
{
    /// <summary>The root node, or null for an empty document.</summary>
    public static ConfigNode? Read(string text, string path)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, ConfigNode>();
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _)) return null;
            parser.Consume<DocumentStart>();
            if (parser.Accept<DocumentEnd>(out _)) return null;
            return ReadNode(parser, anchors, path);
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

    private static ConfigNode ReadNode(IParser parser, Dictionary<string, ConfigNode> anchors, string path)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target)) return target;
            throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, Line(alias), Column(alias), null,
                $"not valid YAML: the alias *{alias.Value} refers to no anchor defined before it."));
        }
        ConfigNode node;
        string? anchor;
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
            node = new ScalarNode(scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded,
                Line(scalar), Column(scalar));
        }
        else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
            var items = new List<ConfigNode>();
            while (!parser.TryConsume<SequenceEnd>(out _)) items.Add(ReadNode(parser, anchors, path));
            node = new SequenceNode(items, Line(sequenceStart), Column(sequenceStart));
        }
        else if (parser.TryConsume<MappingStart>(out var mappingStart))
        {
            anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
            var entries = new List<(ScalarNode, ConfigNode)>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyNode = ReadNode(parser, anchors, path);
                if (keyNode is not ScalarNode key)
                    throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, keyNode.Line, keyNode.Column, null,
                        "a key must be a plain name, not a list or mapping."));
                var value = ReadNode(parser, anchors, path);
                if (entries.Any(e => e.Item1.Text == key.Text))
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
        if (anchor is not null) anchors[anchor] = node;
        return node;
    }

    private static int Line(ParsingEvent e) => (int)e.Start.Line;
    private static int Column(ParsingEvent e) => (int)e.Start.Column;
}
