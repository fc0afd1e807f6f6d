namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>rdzv_backend</c>: how machines meet in a multi-machine run.</summary>
public sealed class RendezvousBackend : ConfigChoice, IConfigChoice<RendezvousBackend>
{
    /// <summary><c>static</c>: every machine knows its rank; rank 0 hosts the store.</summary>
    public static readonly RendezvousBackend Static = new("static");
    /// <summary><c>c10d</c>: the machines agree on ranks at the store.</summary>
    public static readonly RendezvousBackend C10d = new("c10d");

    private RendezvousBackend(string name) : base(name) { }

    /// <inheritdoc/>
    public static IReadOnlyList<RendezvousBackend> All { get; } = [Static, C10d];

    /// <inheritdoc/>
    public static IReadOnlyList<string> Unsupported { get; } = ["etcd", "etcd-v2"];
}
