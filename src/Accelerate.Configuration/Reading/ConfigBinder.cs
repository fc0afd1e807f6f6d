using System.Globalization;

namespace Accelerate.Configuration.Reading;

/// <summary>Turns the nodes of a config file into a <see cref="ClusterConfig"/>, collecting every problem before failing.</summary>
internal sealed class ConfigBinder
{
    private readonly string path;
    private readonly List<ConfigFileError> errors = [];
    // A node that YAML aliases share becomes one object, however often it is referred to.
    private readonly Dictionary<ConfigNode, object?> objects = new(ReferenceEqualityComparer.Instance);

    private ConfigBinder(string path) => this.path = path;

    public static ClusterConfig Bind(ConfigNode? root, string path) => new ConfigBinder(path).BindRoot(root);

    private ClusterConfig BindRoot(ConfigNode? root)
    {
        if (root is null)
            throw Fail(ConfigErrorCode.Syntax, 0, 0, null,
                "the file is empty. Write one with `accelerate config` or `accelerate config default`, or add at least `distributed_type: NO`.");
        if (root is not MappingNode mapping)
            throw Fail(ConfigErrorCode.Syntax, root.Line, root.Column, null,
                "expected `key: value` settings (a mapping) at the top of the file, e.g. `distributed_type: NO`.");

        var entries = mapping.Entries.ToDictionary(e => e.Key.Text, e => (e.Key, e.Value));

        // A SageMaker file has keys of its own; naming them unknown would hide the real problem.
        if (entries.TryGetValue("compute_environment", out var environment))
        {
            Enum<ComputeEnvironment>(environment.Key.Text, environment.Value);
            if (errors.Count > 0) throw new ConfigFileException(errors);
        }

        var config = new ClusterConfig();
        var nested = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        var other = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        var unknown = new List<ScalarNode>();
        bool? legacyFp16 = null;
        var hasDistributedType = false;

        foreach (var (key, value) in mapping.Entries)
        {
            var name = key.Text;
            switch (name)
            {
                case "compute_environment": config = config with { ComputeEnvironment = Enum<ComputeEnvironment>(name, value) }; break;
                case "distributed_type":
                    hasDistributedType = true;
                    config = config with { DistributedType = Enum<DistributedType>(name, value) ?? EmptyDistributedType(value) };
                    break;
                case "mixed_precision": config = config with { MixedPrecision = Enum<MixedPrecision>(name, value) }; break;
                case "use_cpu": config = config with { UseCpu = Bool(name, value) }; break;
                case "debug": config = config with { Debug = Bool(name, value) }; break;
                case "same_network": config = config with { SameNetwork = Bool(name, value) }; break;
                case "enable_cpu_affinity": config = config with { EnableCpuAffinity = Bool(name, value) }; break;
                case "num_processes":
                    const string processCounts = "a whole number of processes, 1 or more (or -1 for \"not set\")";
                    var processes = Int(name, value, min: -1, max: int.MaxValue, processCounts);
                    if (processes == 0) processes = Invalid<int?>(name, value, processCounts);
                    config = config with { NumProcesses = processes == -1 ? null : processes };
                    break;
                case "machine_rank": config = config with { MachineRank = Int(name, value, 0, int.MaxValue, "a whole number from 0 (this machine's index)") }; break;
                case "num_machines": config = config with { NumMachines = Int(name, value, 1, int.MaxValue, "a whole number of machines, 1 or more") }; break;
                case "main_process_port": config = config with { MainProcessPort = Int(name, value, 0, 65535, "a port number from 0 to 65535 (0 picks a free port)") }; break;
                case "gpu_ids": config = config with { GpuIds = GpuIds(name, value) }; break;
                case "main_process_ip": config = config with { MainProcessIp = Text(name, value, "an IP address or host name") }; break;
                case "main_training_function": config = config with { MainTrainingFunction = Text(name, value, "the name of a [TrainingFunction], e.g. main") }; break;
                case "rdzv_backend": config = config with { RdzvBackend = Enum<RendezvousBackend>(name, value) }; break;
                case "downcast_bf16": config = config with { DowncastBf16 = Text(name, value, "a single value such as 'no'") }; break;
                case "fp16": legacyFp16 = Bool(name, value); break;
                case "dynamo_backend":
                    // HF's older spelling of dynamo_config.dynamo_backend; NO means no dynamo settings at all.
                    var backend = Text(name, value, "a dynamo backend name such as NO");
                    if (backend is not null && !string.Equals(backend, "NO", StringComparison.OrdinalIgnoreCase) && !nested.ContainsKey("dynamo_config"))
                        nested["dynamo_config"] = new Dictionary<string, object?> { ["dynamo_backend"] = backend };
                    break;
                default:
                    if (ConfigKeys.Nested.Contains(name))
                    {
                        if (value is MappingNode or ScalarNode { IsNull: true }) nested[name] = ToObject(value);
                        else Invalid<object>(name, value, "a mapping of settings (indented `key: value` lines, or {})");
                    }
                    else if (ConfigKeys.Other.Contains(name)) other[name] = ToObject(value);
                    else unknown.Add(key);
                    break;
            }
        }

        foreach (var key in unknown)
        {
            var suggestion = KeySuggester.Closest(key.Text, ConfigKeys.Current);
            errors.Add(new ConfigFileError(ConfigErrorCode.UnknownKey, path, key.Line, key.Column, key.Text,
                $"unknown key '{key.Text}'; did you mean '{suggestion}'? Correct or remove it (see docs/config.md for every key)."));
        }
        if (!hasDistributedType)
            errors.Add(new ConfigFileError(ConfigErrorCode.MissingKey, path, 0, 0, "distributed_type",
                "`distributed_type` is missing; every config file must set it. Add `distributed_type: NO` (or MULTI_CPU, MULTI_GPU)."));

        // As HF: a legacy fp16 flag counts only where mixed_precision is absent.
        if (legacyFp16 == true && config.MixedPrecision is null) config = config with { MixedPrecision = MixedPrecision.Fp16 };

        if (config is { MachineRank: { } rank, NumMachines: { } machines } && rank >= machines && entries.TryGetValue("machine_rank", out var rankEntry))
            errors.Add(new ConfigFileError(ConfigErrorCode.InvalidValue, path, rankEntry.Value.Line, rankEntry.Value.Column, "machine_rank",
                $"`machine_rank` is {rank} but `num_machines` is {machines}; allowed values are 0 to {machines - 1}."));

        if (errors.Count > 0) throw new ConfigFileException(errors.OrderBy(e => e.Line == 0 ? int.MaxValue : e.Line).ThenBy(e => e.Column).ToList());
        return config with { NestedConfigs = Without(nested, empty: true), OtherSettings = Without(other, empty: false) };
    }

    private static Dictionary<string, object?> Without(SortedDictionary<string, object?> settings, bool empty) =>
        settings.Where(s => s.Value is not null && !(empty && s.Value is IReadOnlyDictionary<string, object?> { Count: 0 }))
                .ToDictionary(s => s.Key, s => s.Value);

    /// <summary>Reports a <c>distributed_type:</c> with no value (a wrong value was reported already) and stands in NO.</summary>
    private DistributedType EmptyDistributedType(ConfigNode value)
    {
        if (value is ScalarNode { IsNull: true })
            errors.Add(Error(ConfigErrorCode.MissingKey, value, "distributed_type",
                $"`distributed_type` is empty; allowed values are {string.Join(", ", WireNames.Names<DistributedType>())}."));
        return DistributedType.No;
    }

    private T? Enum<T>(string key, ConfigNode value) where T : struct, System.Enum
    {
        var allowed = string.Join(", ", WireNames.Names<T>());
        if (value is not ScalarNode scalar) return Invalid<T?>(key, value, $"one of {allowed}");
        if (scalar.IsNull) return null;
        // PyYAML reads an unquoted NO/no as false; HF files quote it, hand-written ones may not.
        var text = scalar.Text;
        if (WireNames.TryParse<T>(text, out var parsed)) return parsed;
        var unsupported = WireNames.Unsupported<T>().FirstOrDefault(u => string.Equals(u, text.Trim(), StringComparison.OrdinalIgnoreCase));
        if (unsupported is not null)
        {
            errors.Add(Error(ConfigErrorCode.NotSupported, value, key,
                $"`{key}: {unsupported}` is not supported by Accelerate for .NET; allowed values are {allowed}."));
            return null;
        }
        return Invalid<T?>(key, value, $"one of {allowed}");
    }

    private bool? Bool(string key, ConfigNode value)
    {
        if (value is ScalarNode { IsNull: true }) return null;
        if (value is ScalarNode scalar && scalar.AsBool() is { } flag) return flag;
        return Invalid<bool?>(key, value, "true or false");
    }

    private int? Int(string key, ConfigNode value, int min, int max, string allowed)
    {
        if (value is ScalarNode { IsNull: true }) return null;
        if (value is ScalarNode scalar && int.TryParse(scalar.Text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            && number >= min && number <= max)
            return number;
        return Invalid<int?>(key, value, allowed);
    }

    private string? Text(string key, ConfigNode value, string allowed)
    {
        if (value is not ScalarNode scalar) return Invalid<string>(key, value, allowed);
        if (scalar.IsNull) return null;
        if (string.IsNullOrWhiteSpace(scalar.Text)) return Invalid<string>(key, value, allowed);
        return scalar.Text;
    }

    private string? GpuIds(string key, ConfigNode value)
    {
        const string allowed = "all, or a comma-separated list of GPU ids such as 0,1";
        var text = Text(key, value, allowed);
        if (text is null) return null;
        if (string.Equals(text.Trim(), "all", StringComparison.OrdinalIgnoreCase)) return "all";
        var ids = text.Split(',', StringSplitOptions.TrimEntries);
        if (ids.All(id => id.Length > 0 && id.All(char.IsAsciiDigit))) return string.Join(',', ids);
        return Invalid<string>(key, value, allowed);
    }

    private T? Invalid<T>(string key, ConfigNode value, string allowed)
    {
        var shown = value switch
        {
            ScalarNode s => $"'{s.Text}'",
            MappingNode => "a mapping",
            _ => "a list",
        };
        errors.Add(Error(ConfigErrorCode.InvalidValue, value, key, $"`{key}` must be {allowed}, not {shown}."));
        return default;
    }

    private ConfigFileError Error(string code, ConfigNode at, string key, string message) =>
        new(code, path, at.Line, at.Column, key, message);

    private ConfigFileException Fail(string code, int line, int column, string? key, string message) =>
        new(new ConfigFileError(code, path, line, column, key, message));

    private object? ToObject(ConfigNode node)
    {
        if (objects.TryGetValue(node, out var known)) return known;
        object? value = node switch
        {
            ScalarNode scalar => scalar.ToPlainValue(),
            SequenceNode sequence => sequence.Items.Select(ToObject).ToList(),
            MappingNode mapping => mapping.Entries.ToDictionary(e => e.Key.Text, e => ToObject(e.Value)),
            _ => throw new InvalidOperationException(node.GetType().Name),
        };
        objects[node] = value;
        return value;
    }
}
