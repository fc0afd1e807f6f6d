namespace Accelerate.Configuration;

/// <summary>
/// The spellings HF accelerate uses in config files and on the command line for the enum values of
/// <see cref="ClusterConfig"/>, and the values HF knows that this product reads but does not support.
/// </summary>
public static class WireNames
{
    private static readonly (DistributedType Value, string Name)[] DistributedTypes =
        [(DistributedType.No, "NO"), (DistributedType.MultiCpu, "MULTI_CPU"), (DistributedType.MultiGpu, "MULTI_GPU")];
    private static readonly (MixedPrecision Value, string Name)[] MixedPrecisions =
        [(MixedPrecision.No, "no"), (MixedPrecision.Fp16, "fp16"), (MixedPrecision.Bf16, "bf16")];
    private static readonly (ComputeEnvironment Value, string Name)[] ComputeEnvironments =
        [(ComputeEnvironment.LocalMachine, "LOCAL_MACHINE")];
    private static readonly (RendezvousBackend Value, string Name)[] RendezvousBackends =
        [(RendezvousBackend.Static, "static"), (RendezvousBackend.C10d, "c10d")];

    /// <summary><c>distributed_type</c> values HF accelerate knows that have no TorchSharp counterpart.</summary>
    public static IReadOnlyList<string> UnsupportedDistributedTypes { get; } =
    [
        "MULTI_NPU", "MULTI_MLU", "MULTI_SDAA", "MULTI_MUSA", "MULTI_XPU", "MULTI_HPU", "MULTI_NEURON",
        "DEEPSPEED", "FSDP", "XLA", "TPU", "MEGATRON_LM",
    ];

    /// <summary><c>mixed_precision</c> values HF accelerate knows that TorchSharp cannot run.</summary>
    public static IReadOnlyList<string> UnsupportedMixedPrecisions { get; } = ["fp8"];

    /// <summary><c>compute_environment</c> values HF accelerate knows that this product does not run on.</summary>
    public static IReadOnlyList<string> UnsupportedComputeEnvironments { get; } = ["AMAZON_SAGEMAKER"];

    /// <summary><c>rdzv_backend</c> values torchrun knows that this product does not implement.</summary>
    public static IReadOnlyList<string> UnsupportedRendezvousBackends { get; } = ["etcd", "etcd-v2"];

    /// <summary>The HF spelling, e.g. <c>MULTI_GPU</c>.</summary>
    public static string ToWire(this DistributedType value) => Find(DistributedTypes, value);
    /// <summary>The HF spelling, e.g. <c>fp16</c>.</summary>
    public static string ToWire(this MixedPrecision value) => Find(MixedPrecisions, value);
    /// <summary>The HF spelling, <c>LOCAL_MACHINE</c>.</summary>
    public static string ToWire(this ComputeEnvironment value) => Find(ComputeEnvironments, value);
    /// <summary>The HF spelling, e.g. <c>static</c>.</summary>
    public static string ToWire(this RendezvousBackend value) => Find(RendezvousBackends, value);

    /// <summary>Every supported spelling of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> Names<T>() where T : struct, Enum => Table<T>().Select(e => e.Name).ToArray();

    /// <summary>Reads an HF spelling (case-insensitive, as YAML writers vary); false when it is not a supported value.</summary>
    public static bool TryParse<T>(string text, out T value) where T : struct, Enum
    {
        foreach (var (v, name) in Table<T>())
        {
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>Values of <typeparamref name="T"/> that HF accelerate knows but this product rejects.</summary>
    public static IReadOnlyList<string> Unsupported<T>() where T : struct, Enum => typeof(T) switch
    {
        var t when t == typeof(DistributedType) => UnsupportedDistributedTypes,
        var t when t == typeof(MixedPrecision) => UnsupportedMixedPrecisions,
        var t when t == typeof(ComputeEnvironment) => UnsupportedComputeEnvironments,
        var t when t == typeof(RendezvousBackend) => UnsupportedRendezvousBackends,
        _ => [],
    };

    private static IEnumerable<(T Value, string Name)> Table<T>() where T : struct, Enum => typeof(T) switch
    {
        var t when t == typeof(DistributedType) => DistributedTypes.Select(e => ((T)(object)e.Value, e.Name)),
        var t when t == typeof(MixedPrecision) => MixedPrecisions.Select(e => ((T)(object)e.Value, e.Name)),
        var t when t == typeof(ComputeEnvironment) => ComputeEnvironments.Select(e => ((T)(object)e.Value, e.Name)),
        var t when t == typeof(RendezvousBackend) => RendezvousBackends.Select(e => ((T)(object)e.Value, e.Name)),
        _ => throw new ArgumentException($"{typeof(T).Name} has no config spelling."),
    };

    private static string Find<T>((T Value, string Name)[] table, T value) where T : struct, Enum =>
        table.First(e => EqualityComparer<T>.Default.Equals(e.Value, value)).Name;
}
