using System.Globalization;
using System.Text.RegularExpressions;

namespace Accelerate.Build.Validation;

/// <summary>
/// Checks the launch settings a project gives through MSBuild properties and its accelerate config
/// file, with the launcher's precedence (property over file), before anything is launched.
/// Codes: ACC1100–ACC1110 bad values, ACC1120–ACC1121 config file, ACC1130–ACC1135 conflicts.
/// </summary>
public static class LaunchSettingsValidator
{
    private enum Kind { Count, Index, Port, Host, Precision, Boolean, GpuIds, Name }

    private sealed record Setting(string Property, string ConfigKey, string Flag, Kind Kind, string Code);

    /// <summary>Every launch property, its config key, its launcher flag, and the code for a bad value.</summary>
    private static readonly Setting[] Settings =
    [
        new("NumProcesses", "num_processes", "--num_processes", Kind.Count, "ACC1100"),
        new("NumMachines", "num_machines", "--num_machines", Kind.Count, "ACC1101"),
        new("MachineRank", "machine_rank", "--machine_rank", Kind.Index, "ACC1102"),
        new("MainProcessIp", "main_process_ip", "--main_process_ip", Kind.Host, "ACC1103"),
        new("MainProcessPort", "main_process_port", "--main_process_port", Kind.Port, "ACC1104"),
        new("MixedPrecision", "mixed_precision", "--mixed_precision", Kind.Precision, "ACC1105"),
        new("UseCpu", "use_cpu", "--cpu", Kind.Boolean, "ACC1106"),
        new("MultiGpu", "multi_gpu", "--multi_gpu", Kind.Boolean, "ACC1106"),
        new("GpuIds", "gpu_ids", "--gpu_ids", Kind.GpuIds, "ACC1107"),
        new("MaxRestarts", "max_restarts", "--max_restarts", Kind.Index, "ACC1108"),
        new("GradientAccumulationSteps", "gradient_accumulation_steps", "--gradient_accumulation_steps", Kind.Count, "ACC1109"),
        new("MainTrainingFunction", "main_training_function", "--main_training_function", Kind.Name, "ACC1110"),
    ];

    /// <summary>The MSBuild property names this validator reads, in launcher-flag order.</summary>
    public static IEnumerable<string> PropertyNames => Settings.Select(s => s.Property);

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
            else if (config?.Get(setting.ConfigKey) is { } c)
                value = (c.Value, new SettingSource($"{setting.ConfigKey} in {config.Path}", config.Path, c.Line));
            if (value is not { } v) continue;

            if (Problem(setting.Kind, v.Value) is { } requirement)
            {
                var fix = v.Source.File == config?.Path && config is not null
                    ? $"Change {setting.ConfigKey} in the config file, or override it with the MSBuild property {setting.Property}."
                    : $"Set {setting.Property} to {Example(setting.Kind)} (the launcher's {setting.Flag}).";
                diagnostics.Add(At(setting.Code, $"{setting.Property} is '{v.Value}' ({v.Source.Description}), but it must be {requirement}. {fix}", v.Source));
            }
            else effective[setting.Property] = v;
        }

        Conflicts(effective, diagnostics);
        RepeatedFlags(properties, launchArguments, diagnostics, locate);
        return diagnostics;
    }

    /// <summary>The launcher flag an MSBuild launch property maps to.</summary>
    public static string FlagOf(string property) => Settings.Single(s => s.Property == property).Flag;

    private static void Conflicts(Dictionary<string, (string Value, SettingSource Source)> settings, List<LaunchDiagnostic> diagnostics)
    {
        bool Flag(string name) => settings.TryGetValue(name, out var v) && ParseBool(v.Value) == true;
        int? Int(string name) => settings.TryGetValue(name, out var v) ? int.Parse(v.Value, CultureInfo.InvariantCulture) : null;
        SettingSource Where(string name) => settings[name].Source;

        if (Flag("UseCpu") && Flag("MultiGpu"))
            diagnostics.Add(At("ACC1130", $"UseCpu ({Where("UseCpu").Description}) and MultiGpu ({Where("MultiGpu").Description}) are both true, but a run is either on CPU or on GPUs. Set one of them to false.", Where("MultiGpu")));

        if (Flag("MultiGpu") && Int("NumProcesses") is < 2)
            diagnostics.Add(At("ACC1131", $"MultiGpu is true but NumProcesses is {Int("NumProcesses")} ({Where("NumProcesses").Description}); a multi-GPU run needs at least 2 processes. Set NumProcesses to the number of GPUs, or MultiGpu=false.", Where("NumProcesses")));

        var machines = Int("NumMachines") ?? 1;
        if (Int("MachineRank") is { } rank && rank >= machines)
            diagnostics.Add(At("ACC1132", $"MachineRank is {rank} ({Where("MachineRank").Description}) but there {(machines == 1 ? "is 1 machine" : $"are {machines} machines")}; machine ranks go from 0 to {machines - 1}. Set MachineRank to this machine's index, or NumMachines to the number of machines.", Where("MachineRank")));

        if (machines > 1 && !settings.ContainsKey("MainProcessIp"))
            diagnostics.Add(At("ACC1133", $"NumMachines is {machines} ({Where("NumMachines").Description}) but no MainProcessIp is set, so the machines cannot find rank 0. Set MainProcessIp to the address of machine 0 (and MainProcessPort to a port open on it).", Where("NumMachines")));

        if (machines > 1 && Int("NumProcesses") is { } processes && processes % machines != 0)
            diagnostics.Add(At("ACC1134", $"NumProcesses is {processes} ({Where("NumProcesses").Description}), which does not divide evenly over {machines} machines; NumProcesses counts the processes of all machines together. Set NumProcesses to a multiple of NumMachines, e.g. {machines * Math.Max(1, processes / machines)}.", Where("NumProcesses")));
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
            diagnostics.Add(At("ACC1135", $"AccelerateLaunchArguments passes {setting.Flag}, which the property {setting.Property} ({locate(setting.Property).Description}) also sets. Remove one of them.", locate("AccelerateLaunchArguments")));
        }
    }

    private static string? Problem(Kind kind, string value) => kind switch
    {
        Kind.Count => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 ? null : "a whole number, 1 or more",
        Kind.Index => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? null : "a whole number, 0 or more",
        Kind.Port => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535 ? null : "a TCP port from 0 to 65535 (0 picks a free one)",
        Kind.Host => Uri.CheckHostName(value) != UriHostNameType.Unknown ? null : "an IP address or host name",
        Kind.Precision => value is "no" or "fp16" or "bf16" ? null : value == "fp8" ? "no, fp16 or bf16 (fp8 is not supported with TorchSharp)" : "one of no, fp16, bf16",
        Kind.Boolean => ParseBool(value) is not null ? null : "true or false",
        Kind.GpuIds => value == "all" || Regex.IsMatch(value, @"^\d+(,\d+)*$") ? null : "'all' or a comma-separated list of GPU indexes such as 0,1",
        Kind.Name => Regex.IsMatch(value, @"^[^\s""']+$") ? null : "the name of a [TrainingFunction] (no spaces or quotes)",
        _ => null,
    };

    private static string Example(Kind kind) => kind switch
    {
        Kind.Count => "a number such as 2",
        Kind.Index => "a number such as 0",
        Kind.Port => "a port such as 29500",
        Kind.Host => "an address such as 10.0.0.1",
        Kind.Precision => "no, fp16 or bf16",
        Kind.Boolean => "true or false",
        Kind.GpuIds => "all or a list such as 0,1",
        _ => "the name of one [TrainingFunction]",
    };

    private static bool? ParseBool(string value) => value.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => null,
    };

    private static LaunchDiagnostic At(string code, string message, SettingSource source) => new(code, message, source.File, source.Line);
}
