using System.Runtime.CompilerServices;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// What a collective needs every rank to agree on, packed into 64 bits so that it can ride along
/// with the data at no visible cost (in the shared-memory signal line, in TCP message headers):
/// the collective, its reduction or root, the dtype, and the element count (for gathers, the
/// elements of one row along dim 0, since the rows may differ; for gathers into the caller's outputs, whose
/// inputs have the same shape on every rank, all of them). Ranks whose signatures differ
/// would exchange bytes that do not fit together; every backend compares them and fails with ACC2110.
/// </summary>
/// <remarks>
/// Bits 60–63: <see cref="CollectiveKind"/>; 56–59: dtype + 1 (0: bytes); 52–55: reduction + 1
/// (0: none); 40–51: root rank (mod 4096); 0–39: element count (counts past 2^40 are folded in).
/// </remarks>
internal readonly record struct CollectiveSignature(long Value)
{
    private const int CountBits = 40;
    private const long CountMask = (1L << CountBits) - 1;

    /// <summary>What ranks compare while the group checks its own state (debug mode's exchange), the same on every rank.</summary>
    public static readonly CollectiveSignature Internal = default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CollectiveSignature Of(CollectiveKind kind, long count, ElementType? type = null, ReduceOp? op = null, int root = 0) =>
        new(((long)kind << 60)
            | ((long)(type is { } t ? (int)t + 1 : 0) << 56)
            | ((long)(op is { } o ? (int)o + 1 : 0) << 52)
            | ((long)(root & 0xFFF) << CountBits)
            | ((count ^ (count >>> CountBits)) & CountMask));

    public CollectiveKind Kind => (CollectiveKind)((Value >>> 60) & 0xF);

    /// <summary>"AllReduce(Sum) of 4 float32", "Broadcast(source=1) of 8 float64", "AllGather of rows of 3 float32", "AllGather into given outputs of 12 float32 per rank", "Barrier".</summary>
    public string Describe()
    {
        var typeCode = (int)((Value >>> 56) & 0xF);
        var opCode = (int)((Value >>> 52) & 0xF);
        var root = (int)((Value >>> CountBits) & 0xFFF);
        var count = Value & CountMask;
        var type = typeCode == 0 ? "bytes" : ((ElementType)(typeCode - 1)).Name();
        var op = opCode == 0 ? "" : ((ReduceOp)(opCode - 1)).ToString();
        return Kind switch
        {
            CollectiveKind.AllReduce => $"AllReduce({op}) of {count} {type}",
            CollectiveKind.ReduceScatter => $"ReduceScatter({op}) of {count} {type}",
            CollectiveKind.Broadcast => $"Broadcast(source={root}) of {count} {type}",
            CollectiveKind.AllGather => $"AllGather of rows of {count} {type}",
            CollectiveKind.Gather => $"Gather(destination={root}) of rows of {count} {type}",
            CollectiveKind.Barrier => "Barrier",
            CollectiveKind.BroadcastObject => $"BroadcastObject(source={root})",
            CollectiveKind.AllGatherObject => "AllGatherObject",
            CollectiveKind.AllGatherInto => $"AllGather into given outputs of {count} {type} per rank",
            CollectiveKind.GatherInto => $"Gather(destination={root}) into given outputs of {count} {type} per rank",
            _ => "no collective",
        };
    }

    /// <summary>
    /// The ACC2110 error for rank <paramref name="rank"/>, which called this collective, finding
    /// that <paramref name="who"/> called <paramref name="other"/>.
    /// </summary>
    public AccelerateException Mismatch(CollectiveSignature other, int rank, string who) =>
        new(RuntimeErrorCode.CollectiveMismatch, $"Ranks called different collectives, or one with different sizes or dtypes: rank {rank} called {Describe()}, but {who} called {other.Describe()}. " +
            "Every rank must call the same collectives in the same order, with tensors of the same dtype and size (gathers: the same size after dim 0) and the same reduction, source or destination. " +
            "A collective inside `if (accelerator.IsMainProcess)`, or one whose size depends on the rank's data, causes this; set ACCELERATE_DEBUG_MODE=true (--debug) to see where each rank called it.");

    public override string ToString() => Describe();
}
