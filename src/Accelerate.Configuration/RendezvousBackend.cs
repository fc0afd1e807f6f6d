namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>rdzv_backend</c>: how machines meet in a multi-machine run.</summary>
public enum RendezvousBackend
{
    /// <summary><c>static</c>: every machine knows its rank; rank 0 hosts the store.</summary>
    Static,
    /// <summary><c>c10d</c>: the machines agree on ranks at the store.</summary>
    C10d,
}
