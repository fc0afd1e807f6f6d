using System.Globalization;
using System.Text.RegularExpressions;
using Accelerate.Configuration.Launch;

namespace Accelerate.Build.Validation;

/// <summary>
/// Checks the launch settings a project gives through MSBuild properties and its accelerate config
/// file, with the launcher's precedence (property over file), before anything is launched.
/// The settings and their codes come from <see cref="LaunchSettings"/> (<see cref="BuildErrorCode"/>).
/// </summary>
public static class LaunchSettingsValidator
{
    private sealed record Setting(string Property, string? ConfigKey, string Flag, LaunchSetting Row, string Code);

    /// <summary>Every launch property with a checked value: its config key, its launcher flag, and the code for a bad value.</summary>
    private static readonly Setting[] Settings = LaunchSettings.Properties
        .Where(s => s.InvalidValueCode is not null)
        .Select(s => new Setting(s.Property!, s.ConfigKey, s.Flag, s, s.InvalidValueCode!))
        .ToArray();

    /// <summary>
    /// Validates <paramref name="properties"/> (non-empty MSBuild property values by name) over the
    /// values of <paramref name="config"/> (null when no config file is used).
    /// </summary>
    /// <param name="properties">The launch properties that are set.</param>
    /// <param name="locate">Tells where a property was set.</param>
    /// <param name="config">The config file's top-level values, if a config file is used.</param>
    /// <param name="launchArguments">The raw <c>AccelerateLaunchArguments</c>, checked for flags a property already sets.</param>
    public static IReadOnlyList<LaunchDiagnostic> Validate(
        IReadOnlyDictionary<string, string> properties,
        Func<string, SettingSource> locate,
        ConfigFileScalars? config,
        string? launchArguments = null)
    {
        var diagnostics = new List<LaunchDiagnostic>();
        var effective = new Dictionary<string, (string Value, SettingSource Source)>();

        foreach (var setting in Settings)
        {
            (string Value, SettingSource Source)? value = null;
            if (properties.TryGetValue(setting.Property, out var p) && !string.IsNullOrWhiteSpace(p))
                value = (p.Trim(), locate(setting.Property));
            else if (setting.ConfigKey is not null && config?.Get(setting.ConfigKey) is { } c)
                value = (c.Value, new SettingSource($"{setting.ConfigKey} in {config.Path}", config.Path, c.Line));
            if (value is not { } v) continue;

            if (Problem(setting.Row, v.Value) is { } requirement)
            {
                var fix = v.Source.File == config?.Path && config is not null
                    ? $"Change {setting.ConfigKey} in the config file, or override it with the MSBuild property {setting.Property}."
                    : $"Set {setting.Property} to {Example(setting.Row)} (the launcher's {setting.Flag}).";
                diagnostics.Add(At(setting.Code, $"{setting.Property} is '{v.Value}' ({v.Source.Description}), but it must be {requirement}. {fix}", v.Source));
            }
            else effective[setting.Property] = v;
        }

        Conflicts(effective, diagnostics);
        RepeatedFlags(properties, launchArguments, diagnostics, locate);
        return diagnostics;
    }

    private static void Conflicts(Dictionary<string, (string Value, SettingSource Source)> settings, List<LaunchDiagnostic> diagnostics)
    {
        bool Flag(string name) => settings.TryGetValue(name, out var v) && ParseBool(v.Value) == true;
        int? Int(string name) => settings.TryGetValue(name, out var v) ? int.Parse(v.Value, CultureInfo.InvariantCulture) : null;
        SettingSource Where(string name) => settings[name].Source;

        if (Flag("UseCpu") && Flag("MultiGpu"))
            diagnostics.Add(At(BuildErrorCode.CpuAndMultiGpu, $"UseCpu ({Where("UseCpu").Description}) and MultiGpu ({Where("MultiGpu").Description}) are both true, but a run is either on CPU or on GPUs. Set one of them to false.", Where("MultiGpu")));

        if (Flag("MultiGpu") && Int("NumProcesses") is < 2)
            diagnostics.Add(At(BuildErrorCode.MultiGpuNeedsTwoProcesses, $"MultiGpu is true but NumProcesses is {Int("NumProcesses")} ({Where("NumProcesses").Description}); a multi-GPU run needs at least 2 processes. Set NumProcesses to the number of GPUs, or MultiGpu=false.", Where("NumProcesses")));

        var machines = Int("NumMachines") ?? 1;
        if (Int("MachineRank") is { } rank && rank >= machines)
            diagnostics.Add(At(BuildErrorCode.MachineRankOutOfRange, $"MachineRank is {rank} ({Where("MachineRank").Description}) but there {(machines == 1 ? "is 1 machine" : $"are {machines} machines")}; machine ranks go from 0 to {machines - 1}. Set MachineRank to this machine's index, or NumMachines to the number of machines.", Where("MachineRank")));

        if (machines > 1 && !settings.ContainsKey("MainProcessIp"))
            diagnostics.Add(At(BuildErrorCode.MainProcessIpMissing, $"NumMachines is {machines} ({Where("NumMachines").Description}) but no MainProcessIp is set, so the machines cannot find rank 0. Set MainProcessIp to the address of machine 0 (and MainProcessPort to a port open on it).", Where("NumMachines")));

        if (machines > 1 && Int("NumProcesses") is { } processes && processes % machines != 0)
            diagnostics.Add(At(BuildErrorCode.UnevenProcesses, $"NumProcesses is {processes} ({Where("NumProcesses").Description}), which does not divide evenly over {machines} machines; NumProcesses counts the processes of all machines together. Set NumProcesses to a multiple of NumMachines, e.g. {machines * Math.Max(1, processes / machines)}.", Where("NumProcesses")));
    }

    private static void RepeatedFlags(IReadOnlyDictionary<string, string> properties, string? launchArguments, List<LaunchDiagnostic> diagnostics, Func<string, SettingSource> locate)
    {
        if (string.IsNullOrWhiteSpace(launchArguments)) return;
        var given = launchArguments.Split((char[])[' ', '\t', '='], StringSplitOptions.RemoveEmptyEntries)
            .Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Replace('-', '_')).ToHashSet();
        foreach (var setting in Settings)
        {
            if (!properties.TryGetValue(setting.Property, out var value) || string.IsNullOrWhiteSpace(value)) continue;
            if (!given.Contains(setting.Flag.Replace('-', '_'))) continue;
            diagnostics.Add(At(BuildErrorCode.RepeatedFlag, $"AccelerateLaunchArguments passes {setting.Flag}, which the property {setting.Property} ({locate(setting.Property).Description}) also sets. Remove one of them.", locate("AccelerateLaunchArguments")));
        }
    }

    private static string? Problem(LaunchSetting setting, string value) => setting.Kind switch
    {
        LaunchValueKind.Count => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 ? null : "a whole number, 1 or more",
        LaunchValueKind.Index => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? null : "a whole number, 0 or more",
        LaunchValueKind.Port => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535 ? null : "a TCP port from 0 to 65535 (0 picks a free one)",
        LaunchValueKind.Host => Uri.CheckHostName(value) != UriHostNameType.Unknown ? null : "an IP address or host name",
        LaunchValueKind.Choice => setting.AllowedValues!.Contains(value) ? null
            : setting.UnsupportedValues?.Contains(value) == true ? $"{OneOf(setting.AllowedValues!)} ({value} is not supported with TorchSharp)"
            : "one of " + string.Join(", ", setting.AllowedValues!),
        LaunchValueKind.Flag => ParseBool(value) is not null ? null : "true or false",
        LaunchValueKind.GpuIds => value == "all" || Regex.IsMatch(value, @"^\d+(,\d+)*$") ? null : "'all' or a comma-separated list of GPU indexes such as 0,1",
        LaunchValueKind.Name => Regex.IsMatch(value, @"^[^\s""']+$") ? null : "the name of a [TrainingFunction] (no spaces or quotes)",
        _ => null,
    };

    private static string Example(LaunchSetting setting) => setting.Kind switch
    {
        LaunchValueKind.Count => "a number such as 2",
        LaunchValueKind.Index => "a number such as 0",
        LaunchValueKind.Port => "a port such as 29500",
        LaunchValueKind.Host => "an address such as 10.0.0.1",
        LaunchValueKind.Choice => OneOf(setting.AllowedValues!),
        LaunchValueKind.Flag => "true or false",
        LaunchValueKind.GpuIds => "all or a list such as 0,1",
        _ => "the name of one [TrainingFunction]",
    };

    /// <summary>"no, fp16 or bf16".</summary>
    private static string OneOf(string[] values) => values.Length > 1 ? string.Join(", ", values[..^1]) + " or " + values[^1] : values[0];

    private static bool? ParseBool(string value) => value.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => null,
    };

    private static LaunchDiagnostic At(string code, string message, SettingSource source) => new(code, message, source.File, source.Line);
}
