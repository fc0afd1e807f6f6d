using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Accelerate.Hosting;

/// <summary>
/// Writes a failing rank's error record to <c>TORCHELASTIC_ERROR_FILE</c> in torchrun's format, so
/// that the launcher's failure summary can show the real exception:
/// <c>{"message":{"message":"Type: msg","extraInfo":{"py_callstack":"...","timestamp":"unix seconds"}}}</c>.
/// </summary>
internal static class TrainingErrorFile
{
    public const string Variable = LaunchVariables.ErrorFile;

    /// <summary>The record for <paramref name="exception"/>, as JSON text.</summary>
    public static string Format(Exception exception, DateTimeOffset time)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("message");
            json.WriteString("message", $"{exception.GetType().FullName}: {exception.Message}");
            json.WriteStartObject("extraInfo");
            json.WriteString("py_callstack", exception.ToString());
            json.WriteString("timestamp", time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Writes the record to <paramref name="path"/> (replacing an older one, as torchrun does);
    /// returns why it could not, or null. Never throws: the original failure must stay visible.
    /// </summary>
    public static string? TryWrite(string path, Exception exception, DateTimeOffset time)
    {
        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            File.WriteAllText(path, Format(exception, time));
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"could not write the error record to {Variable}='{path}': {e.Message}";
        }
    }
}
