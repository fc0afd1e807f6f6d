using System.Xml;
using System.Xml.Linq;
using Accelerate.Configuration;
using Accelerate.Configuration.Launch;
using Microsoft.Build.Framework;
using Task = Microsoft.Build.Utilities.Task;

namespace Accelerate.Build.Validation;

/// <summary>
/// Checks a project's launch properties (<c>NumProcesses</c>, <c>MixedPrecision</c>, ...) and its
/// accelerate config file at build time, so that a bad value fails the build with an <c>ACC11xx</c>
/// error that points at the project or config line, instead of failing later in every rank.
/// </summary>
public sealed class ValidateLaunchSettings : Task
{
    /// <summary>The launch properties as <c>Name=Value</c> items (item spec: name; metadata <c>Value</c>).</summary>
    public ITaskItem[] Properties { get; set; } = [];

    /// <summary>The project being built; properties defined in it are reported at their line.</summary>
    [Required] public string ProjectFile { get; set; } = "";

    /// <summary><c>AccelerateConfig</c>: an explicit config file, which must exist.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>Whether the program is started through the launcher, which then reads the default config file when there is one.</summary>
    public bool UsesLauncher { get; set; }

    /// <summary><c>AccelerateLaunchArguments</c>: extra launcher flags.</summary>
    public string? LaunchArguments { get; set; }

    /// <summary>The config file that was read (empty when none), for incremental builds.</summary>
    [Output] public string UsedConfigFile { get; private set; } = "";

    /// <summary>Environment lookup for the default config path; replaceable in tests.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; set; } = Environment.GetEnvironmentVariable;

    /// <inheritdoc />
    public override bool Execute()
    {
        var properties = Properties
            .Where(p => !string.IsNullOrWhiteSpace(p.GetMetadata("Value")))
            .ToDictionary(p => p.ItemSpec, p => p.GetMetadata("Value"), StringComparer.Ordinal);
        var globals = (BuildEngine as IBuildEngine6)?.GetGlobalProperties() ?? new Dictionary<string, string>();

        ConfigFileScalars? config = null;
        try
        {
            var loaded = global::Accelerate.Configuration.ConfigFile.LoadForLaunch(ConfigPath(), UsesCpu(properties), GetEnvironmentVariable);
            if (loaded is not null)
            {
                config = ConfigFileScalars.Read(loaded.Path);
                UsedConfigFile = loaded.Path;
            }
        }
        catch (ConfigFileException e) when (e.Code == ConfigErrorCode.FileNotFound)
        {
            var source = Locate("AccelerateConfig", globals);
            Report(new LaunchDiagnostic(BuildErrorCode.ConfigFileMissing,
                $"AccelerateConfig names the config file '{e.Errors[0].Path}' ({source.Description}), which does not exist. Create it with 'accelerate config --config_file {e.Errors[0].Path}', or fix the path.",
                source.File, source.Line));
            return false;
        }
        catch (ConfigFileException e)
        {
            foreach (var error in e.Errors)
                Log.LogError(null, BuildErrorCode.ConfigFileInvalid, null, error.Path, error.Line, error.Column, 0, 0,
                    "The accelerate config file is not valid: {0} ({1}{2}). Fix the file, or point AccelerateConfig at another one.",
                    error.Message, error.Code, error.Key is null ? "" : $", key {error.Key}");
            return false;
        }

        var diagnostics = LaunchSettingsValidator.Validate(properties, name => Locate(name, globals), config, LaunchArguments);
        foreach (var d in diagnostics) Report(d);
        return diagnostics.Count == 0;
    }

    /// <summary>
    /// The explicit <c>AccelerateConfig</c> relative to the project; null when not set, so that, when launching,
    /// HF accelerate's default file is read (unless forced to CPU, as <c>--cpu</c> does).
    /// </summary>
    private string? ConfigPath()
    {
        if (string.IsNullOrWhiteSpace(ConfigFile)) return null;
        var expanded = ConfigPaths.ExpandHome(ConfigFile.Trim(), GetEnvironmentVariable);
        return Path.GetFullPath(expanded, Path.GetDirectoryName(Path.GetFullPath(ProjectFile))!);
    }

    private bool UsesCpu(IReadOnlyDictionary<string, string> properties) =>
        !UsesLauncher || (properties.TryGetValue("UseCpu", out var cpu) && cpu.Equals("true", StringComparison.OrdinalIgnoreCase));

    /// <summary>A global property (<c>-p:</c>) has no file; a property set in the project file is reported at its line.</summary>
    private SettingSource Locate(string property, IReadOnlyDictionary<string, string> globals)
    {
        if (globals.TryGetValue(property, out var value)) return new SettingSource($"set with -p:{property}={value}");
        var line = LineInProject(property);
        return new SettingSource(line > 0 ? $"set in {Path.GetFileName(ProjectFile)}" : $"the MSBuild property {property}", ProjectFile, line);
    }

    private int LineInProject(string property)
    {
        try
        {
            var document = XDocument.Load(ProjectFile, LoadOptions.SetLineInfo);
            var element = document.Descendants().LastOrDefault(e => e.Name.LocalName == property && e.Parent?.Name.LocalName == "PropertyGroup");
            return element is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : 0;
        }
        catch (Exception e) when (e is IOException or XmlException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private void Report(LaunchDiagnostic d) =>
        Log.LogError(null, d.Code, null, d.File ?? ProjectFile, d.Line, 0, 0, 0, d.Message);
}
