using System.Text;
using Accelerate.Configuration.Reading;
using Accelerate.Configuration.Writing;

namespace Accelerate.Configuration;

/// <summary>
/// Reads and writes HF accelerate config files (<c>default_config.yaml</c>, or JSON for a <c>.json</c> name).
/// Every problem is reported as a <see cref="ConfigFileException"/> naming the file, line, column and key.
/// </summary>
public static class ConfigFile
{
    /// <summary>JSON for a <c>.json</c> file name, YAML for any other (as HF accelerate).</summary>
    public static ConfigFormat FormatOf(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ConfigFormat.Json : ConfigFormat.Yaml;

    /// <summary>Reads and validates the file at <paramref name="path"/>.</summary>
    /// <exception cref="ConfigFileException">The file is missing, unreadable, malformed, or has unknown keys or bad values.</exception>
    public static ClusterConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.FileNotFound, path, 0, 0, null,
                "the config file does not exist. Pass an existing file to --config_file, or create one with `accelerate config` (or `accelerate config default`)."));
        string text;
        try
        {
            if (new FileInfo(path).Length > ReadingLimits.MaxFileBytes) throw TooLarge(path);
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Io, path, 0, 0, null,
                $"the config file cannot be read: {e.Message}"), e);
        }
        return Parse(text, FormatOf(path), path);
    }

    /// <summary>Reads config text; <paramref name="path"/> only names the source in error messages.</summary>
    /// <exception cref="ConfigFileException">The text is malformed, or has unknown keys or bad values.</exception>
    public static ClusterConfig Parse(string text, ConfigFormat format, string path = "<config>")
    {
        if (text.Length > ReadingLimits.MaxFileBytes) throw TooLarge(path);
        var root = format == ConfigFormat.Json ? JsonNodeReader.Read(text, path) : YamlNodeReader.Read(text, path);
        return ConfigBinder.Bind(root, path);
    }

    private static ConfigFileException TooLarge(string path) =>
        new(new ConfigFileError(ConfigErrorCode.FileTooLarge, path, 0, 0, null,
            $"the file is larger than {ReadingLimits.MaxFileBytes >> 20} MiB; a config file is a few hundred bytes. Point --config_file at the right file, or write a new one with `accelerate config`."));

    /// <summary>
    /// Finds and reads the config a launch uses, as HF accelerate: an explicit <paramref name="configFile"/> must exist;
    /// otherwise the default file is read when it exists, unless <paramref name="cpu"/> (<c>--cpu</c> skips only the default file).
    /// </summary>
    /// <param name="configFile">The <c>--config_file</c> value, or null.</param>
    /// <param name="cpu">Whether <c>--cpu</c> was passed.</param>
    /// <param name="environment">Looks up an environment variable (pass <see cref="Environment.GetEnvironmentVariable(string)"/>).</param>
    /// <returns>The file read and its settings, or null when no config applies.</returns>
    /// <exception cref="ConfigFileException">The explicit file is missing, or the file read is invalid.</exception>
    public static LoadedConfig? LoadForLaunch(string? configFile, bool cpu, Func<string, string?> environment)
    {
        var path = ConfigPaths.ForLaunch(configFile, cpu, environment);
        return path is null ? null : new LoadedConfig(path, Load(path));
    }

    /// <summary>The file text for <paramref name="config"/>: sorted keys, nulls and empty mappings left out (as HF accelerate).</summary>
    public static string Serialize(ClusterConfig config, ConfigFormat format)
    {
        var document = ConfigDocument.From(config);
        return format == ConfigFormat.Json ? JsonConfigWriter.Write(document) : YamlConfigWriter.Write(document);
    }

    /// <summary>
    /// The settings as the key/value pairs written to the file (HF names, sorted), e.g. to show the effective config.
    /// </summary>
    public static IReadOnlyDictionary<string, object?> ToDictionary(ClusterConfig config) => ConfigDocument.From(config);

    /// <summary>
    /// Writes <paramref name="config"/> to <paramref name="path"/> (JSON for <c>.json</c>, else YAML), creating the folder.
    /// The text goes to a temporary file in the same folder that then replaces the target, so a crash never leaves half a file.
    /// </summary>
    /// <exception cref="ConfigFileException">The file cannot be written.</exception>
    public static void Save(ClusterConfig config, string path) => WriteAtomically(path, Serialize(config, FormatOf(path)));

    /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/> through a temporary file and a rename.</summary>
    /// <exception cref="ConfigFileException">The file cannot be written.</exception>
    public static void WriteAtomically(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(folder);
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(new UTF8Encoding(false).GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new ConfigFileException(new ConfigFileError(ConfigErrorCode.Io, path, 0, 0, null,
                $"the config file cannot be written: {e.Message} Choose a writable path with --config_file."), e);
        }
    }
}
