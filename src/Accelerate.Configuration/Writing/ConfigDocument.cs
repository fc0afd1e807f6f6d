namespace Accelerate.Configuration.Writing;

/// <summary>A <see cref="ClusterConfig"/> as the key/value tree HF accelerate writes: sorted keys, no nulls, no empty top-level mappings.</summary>
internal static class ConfigDocument
{
    public static SortedDictionary<string, object?> From(ClusterConfig config)
    {
        var document = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["compute_environment"] = config.ComputeEnvironment?.ToWire(),
            ["distributed_type"] = config.DistributedType.ToWire(),
            ["mixed_precision"] = config.MixedPrecision?.ToWire(),
            ["use_cpu"] = config.UseCpu,
            ["debug"] = config.Debug,
            ["num_processes"] = config.NumProcesses,
            ["machine_rank"] = config.MachineRank,
            ["num_machines"] = config.NumMachines,
            ["gpu_ids"] = config.GpuIds,
            ["main_process_ip"] = config.MainProcessIp,
            ["main_process_port"] = config.MainProcessPort,
            ["rdzv_backend"] = config.RdzvBackend?.ToWire(),
            ["same_network"] = config.SameNetwork,
            ["main_training_function"] = config.MainTrainingFunction,
            ["enable_cpu_affinity"] = config.EnableCpuAffinity,
            // HF writes 'no' from the questionnaire but a bool from `config default`; keep whichever the file had.
            ["downcast_bf16"] = config.DowncastBf16 is { } downcast && bool.TryParse(downcast, out var flag) ? flag : config.DowncastBf16,
        };
        foreach (var (key, value) in config.NestedConfigs) document[key] = value;
        foreach (var (key, value) in config.OtherSettings) document[key] = value;
        foreach (var key in document.Where(e => e.Value is null or IReadOnlyDictionary<string, object?> { Count: 0 }).Select(e => e.Key).ToList())
            document.Remove(key);
        return document;
    }
}
