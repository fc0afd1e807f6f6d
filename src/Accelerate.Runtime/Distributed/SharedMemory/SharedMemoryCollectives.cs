using Accelerate.Distributed.Collectives;

namespace Accelerate.Distributed.SharedMemory;

/// <summary>
/// Broadcast, all-gather, gather and reduce-scatter between the ranks of one machine, through the
/// banks of a <see cref="SharedMemoryRegion"/> (the all-reduce lives with the process group, which also
/// runs it across machines). Each rank writes its part once into its own slot; peers copy it out
/// (gathers, broadcast) or reduce it (reduce-scatter: each rank reduces its own chunk with SIMD).
/// Messages larger than a slot move in slot-sized pieces, banks alternating, one barrier per piece:
/// a rank reuses a bank only after every peer has arrived at the barrier after it, so has finished
/// reading it. Every collective starts with a barrier, where ranks compare their signatures before
/// touching each other's data; payloads of a few bytes ride in the signal lines themselves.
/// Ranks are numbered as in the region (the group's ranks when all of them share the machine).
/// </summary>
internal sealed unsafe class SharedMemoryCollectives(SharedMemoryRegion region, Action barrier)
{
    private const int Inline = SharedMemoryRegion.InlineBytes;

    /// <summary>Broadcasts are pipelined in pieces of at least this size: the source writes one while the others copy out the last.</summary>
    private const long SmallestBroadcastPiece = 128 * 1024;

    private long Slot => region.SlotBytes;

    /// <summary>Copies <paramref name="bytes"/> bytes from <paramref name="source"/> to every rank.</summary>
    public void Broadcast(nint data, long bytes, int source)
    {
        var me = region.Me;
        if (bytes <= Inline)
        {
            var bank = region.NextBank();
            if (me == source) Copy(data, region.Inline(bank, source), bytes);
            barrier();
            if (me != source) Copy(region.Inline(bank, source), data, bytes);
            return;
        }
        // The source may use the whole bank (every rank's slot, contiguous): quarters of the message,
        // so that copying in and copying out overlap, in pieces no smaller than SmallestBroadcastPiece.
        var bankBytes = Slot * region.Ranks;
        var piece = Math.Min(bankBytes, Math.Max(SmallestBroadcastPiece, (bytes / 4 + 4095) & ~4095L));
        for (long offset = 0; offset < bytes; offset += piece)
        {
            var n = Math.Min(piece, bytes - offset);
            var bank = region.NextBank();
            var buffer = region.Slot(bank, 0);
            if (me == source) Copy(data + (nint)offset, buffer, n);
            barrier();
            if (me != source) Copy(buffer, data + (nint)offset, n);
        }
    }

    /// <summary>Every rank's block (sizes in <paramref name="bytes"/>, the same on every rank) into <paramref name="receive"/>.</summary>
    public void AllGather(nint send, long[] bytes, nint[] receive)
    {
        var me = region.Me;
        if (receive[me] != send) Copy(send, receive[me], bytes[me]);
        var largest = bytes.Max();
        if (largest <= Inline)
        {
            var bank = region.NextBank();
            Copy(send, region.Inline(bank, me), bytes[me]);
            barrier();
            for (var rank = 0; rank < region.Ranks; rank++)
                if (rank != me) Copy(region.Inline(bank, rank), receive[rank], bytes[rank]);
            return;
        }
        for (long offset = 0; offset < largest; offset += Slot)
        {
            var bank = region.NextBank();
            Copy(send + (nint)offset, region.Slot(bank, me), Piece(bytes[me], offset));
            barrier();
            for (var rank = 0; rank < region.Ranks; rank++)
                if (rank != me) Copy(region.Slot(bank, rank), receive[rank] + (nint)offset, Piece(bytes[rank], offset));
        }
    }

    /// <summary>
    /// Every rank's block into <paramref name="receive"/> on <paramref name="destination"/>. Only the destination knows
    /// every size, so each rank publishes its own beside its counter with its first piece (blocks of up to 8 bytes
    /// ride there too): everyone then knows how many pieces the largest block needs.
    /// </summary>
    public void Gather(nint send, long[] bytes, nint[]? receive, int destination)
    {
        const int Tiny = Inline - sizeof(long);
        var me = region.Me;
        var mine = bytes[me];
        long largest = 0;
        var sizes = me == destination ? new long[region.Ranks] : null;
        for (long offset = 0; offset == 0 || offset < largest; offset += Slot)
        {
            var bank = region.NextBank();
            if (offset == 0) *(long*)region.Inline(bank, me) = mine;
            if (me != destination) Copy(send + (nint)offset, mine <= Tiny ? region.Inline(bank, me) + sizeof(long) : region.Slot(bank, me), Piece(mine, offset));
            barrier();
            if (offset == 0)
                for (var rank = 0; rank < region.Ranks; rank++)
                {
                    var size = *(long*)region.Inline(bank, rank);
                    largest = Math.Max(largest, size);
                    if (sizes is not null) sizes[rank] = size;
                }
            if (me != destination) continue;
            for (var rank = 0; rank < region.Ranks; rank++)
            {
                if (rank == me) continue;
                if (sizes![rank] != bytes[rank])
                    throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"Rank {rank} sent {sizes[rank]} bytes to Gather where rank {me} expected {bytes[rank]}: the ranks called it with different shapes or dtypes. " +
                        "Every rank must pass tensors of the same dtype and the same size after dim 0 (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");
                Copy(sizes[rank] <= Tiny ? region.Inline(bank, rank) + sizeof(long) : region.Slot(bank, rank), receive![rank] + (nint)offset, Piece(sizes[rank], offset));
            }
        }
        if (me == destination && receive![me] != send) Copy(send, receive[me], mine);
    }

    /// <summary>
    /// Reduces <paramref name="input"/> (chunk r has <c>counts[r]</c> elements) and writes chunk <see cref="SharedMemoryRegion.Me"/>
    /// to <paramref name="output"/>. Each step, every rank writes its share of every other rank's chunk into its slot
    /// (the slot holds one piece per rank), then reduces its own chunk's piece from its input and every peer's slot.
    /// </summary>
    public void ReduceScatter(nint input, long[] counts, ElementType type, ReduceOp op, nint output)
    {
        var me = region.Me;
        var ranks = region.Ranks;
        var size = type.Size();
        var starts = new long[ranks];
        for (var rank = 1; rank < ranks; rank++) starts[rank] = starts[rank - 1] + counts[rank - 1];
        var perPiece = Math.Max(1, Slot / size / ranks);
        var largest = counts.Max();
        for (long offset = 0; offset == 0 || offset < largest; offset += perPiece)
        {
            var bank = region.NextBank();
            var slot = region.Slot(bank, me);
            if (offset == 0)
            {
                // Same element count (the signature) but rows split differently would pair up the wrong elements.
                var split = (long*)region.Inline(bank, me);
                split[0] = counts[0];
                split[1] = counts[ranks - 1];
            }
            for (var rank = 0; rank < ranks; rank++)
                if (rank != me)
                    Copy(input + (nint)((starts[rank] + offset) * size), slot + rank * perPiece * size, Math.Max(0, Math.Min(perPiece, counts[rank] - offset)) * size);
            barrier();
            if (offset == 0) CheckSplit(bank, counts);
            var n = Math.Max(0, Math.Min(perPiece, counts[me] - offset));
            if (n == 0) continue;
            var result = (byte*)output + offset * size;
            var first = true;
            for (var rank = 0; rank < ranks; rank++)
            {
                if (rank == me) continue;
                var theirs = region.Slot(bank, rank) + me * perPiece * size;
                Reduction.Combine(type, op, first ? (byte*)input + (starts[me] + offset) * size : result, theirs, result, n);
                first = false;
            }
        }
    }

    private void CheckSplit(int bank, long[] counts)
    {
        for (var rank = 0; rank < region.Ranks; rank++)
        {
            var split = (long*)region.Inline(bank, rank);
            if (split[0] != counts[0] || split[1] != counts[^1])
                throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"Rank {rank} splits its ReduceScatter input into chunks of {split[0]}..{split[1]} elements where rank {region.Me} splits it into {counts[0]}..{counts[^1]}: " +
                    "the ranks passed the same number of elements in different shapes. Every rank must pass a tensor of the same shape (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");
        }
    }

    /// <summary>Bytes of a block of <paramref name="total"/> bytes in the piece starting at <paramref name="offset"/>.</summary>
    private long Piece(long total, long offset) => Math.Clamp(total - offset, 0, Slot);

    private static void Copy(nint source, nint destination, long bytes) => Copy((byte*)source, (byte*)destination, bytes);

    private static void Copy(byte* source, nint destination, long bytes) => Copy(source, (byte*)destination, bytes);

    private static void Copy(nint source, byte* destination, long bytes) => Copy((byte*)source, destination, bytes);

    private static void Copy(byte* source, byte* destination, long bytes)
    {
        if (bytes > 0) Buffer.MemoryCopy(source, destination, bytes, bytes);
    }
}
