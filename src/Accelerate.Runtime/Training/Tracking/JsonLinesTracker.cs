using System.Text.Json;

namespace Accelerate.Tracking;

/// <summary>
/// Writes the run as JSON lines to <see cref="Path"/> (<c>metrics.jsonl</c>): first
/// <c>{"project":…,"config":{…}}</c> when <see cref="Accelerator.InitTrackers"/> stores the
/// hyper-parameters, then one <c>{"step":N,"time":…,"values":{"loss":0.25}}</c> per
/// <see cref="Accelerator.Log"/>. Each line is flushed as it is written, so a crashed run keeps
/// what it logged. Non-finite values are written as the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// </summary>
public sealed class JsonLinesTracker : ITracker
{
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly string? _project;
    private StreamWriter? _file;

    /// <summary>A tracker appending to <c>metrics.jsonl</c> in <paramref name="directory"/> (created on first write).</summary>
    public JsonLinesTracker(string directory, string? project = null)
    {
        Path = System.IO.Path.Combine(directory, "metrics.jsonl");
        _project = project;
    }

    /// <inheritdoc/>
    public string Name => "jsonl";

    /// <summary>The file the lines go to.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public void StoreInitConfiguration(IReadOnlyDictionary<string, object?> config) =>
        Write(new Dictionary<string, object?> { ["project"] = _project, ["config"] = config.ToDictionary(p => p.Key, p => TensorBoardTracker.Plain(p.Value)) });

    /// <inheritdoc/>
    public void Log(IReadOnlyDictionary<string, double> metrics, long step) =>
        Write(new Dictionary<string, object?> { ["step"] = step, ["time"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0, ["values"] = metrics });

    /// <inheritdoc/>
    public void Finish()
    {
        _file?.Dispose();
        _file = null;
    }

    private void Write(object line)
    {
        if (_file is null)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            _file = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read));
        }
        _file.WriteLine(JsonSerializer.Serialize(line, Json));
        _file.Flush();
    }
}
