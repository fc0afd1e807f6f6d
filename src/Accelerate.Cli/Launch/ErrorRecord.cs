using System.Text.Json;

namespace Accelerate.Cli.Launch;

/// <summary>A rank's error file in torchrun's format: <c>{"message":{"message":"Type: msg","extraInfo":{"py_callstack":"...","timestamp":"..."}}}</c>.</summary>
/// <param name="Message">"ExceptionType: message".</param>
/// <param name="Stack">The stack trace, if recorded.</param>
internal sealed record ErrorRecord(string Message, string? Stack)
{
    /// <summary>Reads the record a failing rank wrote, or null when there is none or it is not in the expected shape.</summary>
    public static ErrorRecord? TryRead(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (!document.RootElement.TryGetProperty("message", out var outer)) return null;
            if (outer.ValueKind == JsonValueKind.String) return new ErrorRecord(outer.GetString()!, null);
            var message = outer.TryGetProperty("message", out var m) ? m.GetString() : null;
            var stack = outer.TryGetProperty("extraInfo", out var extra) && extra.TryGetProperty("py_callstack", out var s) ? s.GetString() : null;
            return message is null ? null : new ErrorRecord(message, stack);
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
        {
            return null;
        }
    }
}
