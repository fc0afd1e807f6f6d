using System.Text;
using System.Text.Json;

namespace Accelerate.Configuration.Reading;

/// <summary>Reads JSON into <see cref="ConfigNode"/>s, keeping positions (as HF accelerate, for <c>.json</c> files).</summary>
internal static class JsonNodeReader
{
    /// <summary>The root node, or null for an empty file.</summary>
    public static ConfigNode? Read(string text, string path)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'\n') lineStarts.Add(i + 1);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            // Above the reader's own limit, so that too deep a file gets that limit's error.
            MaxDepth = ReadingLimits.MaxDepth + 8,
        });
        try
        {
            reader.Read();
            return ReadValue(ref reader, lineStarts, path, depth: 0);
        }
        catch (JsonException e)
        {
            throw new ConfigFileException(new ConfigFileError(
                ConfigErrorCode.Syntax, path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, null,
                $"not valid JSON: {Describe(e)}. Fix the syntax, or use a .yaml file."), e);
        }
    }

    private static string Describe(JsonException e)
    {
        // System.Text.Json appends the position, which the error already shows.
        var message = e.Message;
        var marker = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (marker >= 0 ? message[..marker] : message).TrimEnd(' ', '.', '|');
    }

    private static ConfigNode ReadValue(ref Utf8JsonReader reader, List<int> lineStarts, string path, int depth)
    {
        var (line, column) = Position(reader.TokenStartIndex, lineStarts);
        if (depth >= ReadingLimits.MaxDepth && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.NestingDepth, path, line, column, null,
                $"values are nested more than {ReadingLimits.MaxDepth} levels deep here; a config file needs a few. Flatten the file, or remove what does not belong in it."));
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var entries = new List<(ScalarNode, ConfigNode)>();
                var keys = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var (keyLine, keyColumn) = Position(reader.TokenStartIndex, lineStarts);
                    var key = new ScalarNode(reader.GetString()!, true, keyLine, keyColumn);
                    reader.Read();
                    var value = ReadValue(ref reader, lineStarts, path, depth + 1);
                    if (!keys.Add(key.Text))
                        throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Syntax, path, key.Line, key.Column, key.Text,
                            $"the key '{key.Text}' appears twice; keep one."));
                    entries.Add((key, value));
                }
                return new MappingNode(entries, line, column);
            case JsonTokenType.StartArray:
                var items = new List<ConfigNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) items.Add(ReadValue(ref reader, lineStarts, path, depth + 1));
                return new SequenceNode(items, line, column);
            case JsonTokenType.String:
                return new ScalarNode(reader.GetString()!, true, line, column);
            default:
                // Numbers, true, false and null: their JSON text reads the same as a plain YAML scalar.
                return new ScalarNode(Encoding.UTF8.GetString(reader.ValueSpan), false, line, column);
        }
    }

    private static (int Line, int Column) Position(long offset, List<int> lineStarts)
    {
        var index = lineStarts.BinarySearch((int)offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, (int)offset - lineStarts[index] + 1);
    }
}
