using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.Tcp;

/// <summary>
/// What a rank does with the payload of a message it receives: copy it to <see cref="Target"/>, or combine
/// it element by element into <see cref="Target"/> with <see cref="Op"/> as its segments arrive.
/// </summary>
internal readonly record struct IncomingPayload(nint Target, bool Reduce, ElementType Type, ReduceOp Op, bool InPlace)
{
    /// <summary>The payload lands in <paramref name="target"/> as it is.</summary>
    public static IncomingPayload CopyTo(nint target) => new(target, false, default, default, false);

    /// <summary>
    /// The payload is combined into <paramref name="target"/>. <paramref name="inPlace"/>: this rank is sending
    /// <paramref name="target"/> at the same time, so a segment is combined only once it has been sent.
    /// </summary>
    public static IncomingPayload CombineInto(nint target, ElementType type, ReduceOp op, bool inPlace) => new(target, true, type, op, inPlace);
}
