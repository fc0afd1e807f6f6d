namespace Accelerate.Distributed.Collectives;

/// <summary>The collectives a <see cref="CollectiveSignature"/> names.</summary>
internal enum CollectiveKind
{
    None,
    AllReduce,
    Broadcast,
    AllGather,
    Gather,
    ReduceScatter,
    Barrier,
    BroadcastObject,
    AllGatherObject,
    AllGatherInto,
    GatherInto,
}
