using System.Net.Sockets;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>What ranks have once they met: every peer's address and an authenticated socket to each.</summary>
internal sealed class RendezvousResult(PeerAddress[] peers, Socket?[] links)
{
    /// <summary>Every rank's address, indexed by rank.</summary>
    public PeerAddress[] Peers { get; } = peers;

    /// <summary>A connected socket to every other rank, indexed by rank (null at this rank's own index).</summary>
    public Socket?[] Links { get; } = links;

    /// <summary>On rank 0, the store it still serves when the join was asked to keep it (debug mode); the caller disposes it.</summary>
    public StoreServer? Store { get; init; }

    /// <summary>The port of rank 0's progress store (on the rendezvous address), when the join was asked to keep one.</summary>
    public int? ProgressPort { get; init; }
}
