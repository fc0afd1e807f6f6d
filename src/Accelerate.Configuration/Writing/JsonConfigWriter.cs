using System.Text;
using System.Text.Json;

namespace Accelerate.Configuration.Writing;

/// <summary>Writes a config tree as HF accelerate does: JSON, 2-space indent, sorted keys, trailing newline.</summary>
internal static class JsonConfigWriter
{
    public static string Write(IReadOnlyDictionary<string, object?> document)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, IndentSize = 2, NewLine = "\n" }))
            WriteValue(writer, document);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case bool flag: writer.WriteBooleanValue(flag); break;
            case int number: writer.WriteNumberValue(number); break;
            case long number: writer.WriteNumberValue(number); break;
            case double real: writer.WriteNumberValue(real); break;
            case string text: writer.WriteStringValue(text); break;
            case IReadOnlyDictionary<string, object?> mapping:
                writer.WriteStartObject();
                foreach (var (key, item) in mapping.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                writer.WriteStartArray();
                foreach (var item in list) WriteValue(writer, item);
                writer.WriteEndArray();
                break;
            default: throw new ArgumentException($"A config value of type {value.GetType().Name} cannot be written.");
        }
    }
}
