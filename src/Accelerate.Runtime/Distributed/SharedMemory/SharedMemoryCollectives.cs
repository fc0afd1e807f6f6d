using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;

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
/// Outside all-gather, blocks of <see cref="SingleCopyThreshold"/> bytes and more are, where the kernel allows it, copied once, straight
/// between the tensors (<see cref="ProcessMemory"/>, instead of into a slot and out again): ranks publish their
/// tensors' addresses in their signal lines, readers pull what they need (in a broadcast or gather the sending side
/// pushes part of it, so that both sides copy), and everyone waits at a second barrier until every copy is done.
/// Ranks are numbered as in the region, which holds every rank of the group.
/// </summary>
internal sealed unsafe class SharedMemoryCollectives
{
    /// <summary>Blocks from this size on are read straight from the peer's memory when <see cref="SingleCopy"/>.</summary>
    internal const long SingleCopyThreshold = 64 * 1024;

    private const int Inline = SharedMemoryRegion.InlineBytes;

    /// <summary>Broadcasts are pipelined in pieces of at least this size: the source writes one while the others copy out the last.</summary>
    private const long SmallestBroadcastPiece = 128 * 1024;

    /// <summary>Bytes of a peer's chunk a single-copy reduce-scatter reads at a time (stays in cache for the reduction).</summary>
    private const long ReducePiece = 256 * 1024;

    private readonly SharedMemoryRegion _region;
    private readonly Action _barrier;
    private readonly PeerAddress[] _peers;

    /// <summary>
    /// Set-up, run by every rank of the region at once: finds out whether every rank may read every other's memory
    /// (not when <c>ACCELERATE_SHM_SINGLE_COPY=0</c> on any rank, a security module or seccomp profile forbids it,
    /// or the ranks' process ids are not each other's, as in separate PID namespaces).
    /// </summary>
    public SharedMemoryCollectives(SharedMemoryRegion region, Action barrier, PeerAddress[] peers)
    {
        _region = region;
        _barrier = barrier;
        _peers = peers;
        var wanted = Environment.GetEnvironmentVariable("ACCELERATE_SHM_SINGLE_COPY") is not ("0" or "false" or "False");
        SingleCopy = AgreeOnSingleCopy(wanted);
    }

    /// <summary>True when large blocks are read straight from the owner's memory.</summary>
    public bool SingleCopy { get; }

    private long Slot => _region.SlotBytes;

    private bool AgreeOnSingleCopy(bool wanted)
    {
        var me = _region.Me;
        // Each rank publishes the address of a random token and the token; peers read it through the kernel and compare.
        var token = (long*)NativeMemory.Alloc(sizeof(long));
        try
        {
            *token = Random.Shared.NextInt64();
            var bank = _region.NextBank();
            var line = (long*)_region.Inline(bank, me);
            line[0] = (long)token;
            line[1] = *token;
            _barrier();
            var able = wanted;
            long theirs = 0;
            for (var rank = 0; rank < _region.Ranks && able; rank++)
            {
                if (rank == me) continue;
                var published = (long*)_region.Inline(bank, rank);
                able = ProcessMemory.TryRead(_peers[rank].ProcessId, (nint)published[0], (nint)(&theirs), sizeof(long)) && theirs == published[1];
            }
            bank = _region.NextBank();
            *(long*)_region.Inline(bank, me) = able ? 1 : 0;
            _barrier();
            for (var rank = 0; rank < _region.Ranks; rank++)
                if (*(long*)_region.Inline(bank, rank) == 0) return false;
            return true;
        }
        finally
        {
            NativeMemory.Free(token);
        }
    }

    /// <summary>Reads a block of rank <paramref name="rank"/>'s memory at <paramref name="remote"/>.</summary>
    private void Read(int rank, nint remote, nint local, long bytes)
    {
        if (bytes > 0 && !ProcessMemory.TryRead(_peers[rank].ProcessId, remote, local, bytes))
            throw new AccelerateException(RuntimeErrorCode.PeerGone, $"Cannot read {bytes} bytes of {_peers[rank].Describe()}'s memory ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}): it exited or crashed (its own output or error file says why).");
    }

    /// <summary>Writes a block into rank <paramref name="rank"/>'s memory at <paramref name="remote"/>.</summary>
    private void Write(int rank, nint remote, nint local, long bytes)
    {
        if (bytes > 0 && !ProcessMemory.TryWrite(_peers[rank].ProcessId, remote, local, bytes))
            throw new AccelerateException(RuntimeErrorCode.PeerGone, $"Cannot write {bytes} bytes into {_peers[rank].Describe()}'s memory ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}): it exited or crashed (its own output or error file says why).");
    }

    /// <summary>Part <paramref name="index"/> of <paramref name="parts"/> of <paramref name="bytes"/> bytes, split at page boundaries.</summary>
    private static (long Start, long Length) Part(long bytes, int parts, int index)
    {
        long Boundary(int i) => i == 0 ? 0 : i == parts ? bytes : bytes * i / parts & ~4095L;
        return (Boundary(index), Boundary(index + 1) - Boundary(index));
    }

    /// <summary>After copying from or to peers' memory: the owners wait here until every copy is done.</summary>
    private void ReadersDone()
    {
        _region.NextBank();
        _barrier();
    }

    /// <summary>Copies <paramref name="bytes"/> bytes from <paramref name="source"/> to every rank.</summary>
    public void Broadcast(nint data, long bytes, int source)
    {
        var me = _region.Me;
        if (bytes <= Inline)
        {
            var bank = _region.NextBank();
            if (me == source) Copy(data, _region.Inline(bank, source), bytes);
            _barrier();
            if (me != source) Copy(_region.Inline(bank, source), data, bytes);
            return;
        }
        if (SingleCopy && bytes >= SingleCopyThreshold)
        {
            // The message in one part per rank: the source writes part r into rank r's tensor while rank r reads the
            // other parts from the source's, so every rank copies about as much, the source included.
            var ranks = _region.Ranks;
            var bank = _region.NextBank();
            *(nint*)_region.Inline(bank, me) = data;
            _barrier();
            if (me == source)
            {
                for (var step = 1; step < ranks; step++)
                {
                    var rank = (me + step) % ranks;
                    var (start, length) = Part(bytes, ranks, rank);
                    Write(rank, *(nint*)_region.Inline(bank, rank) + (nint)start, data + (nint)start, length);
                }
            }
            else
            {
                var remote = *(nint*)_region.Inline(bank, source);
                for (var step = 1; step < ranks; step++)
                {
                    var part = (me + step) % ranks;
                    var (start, length) = Part(bytes, ranks, part);
                    Read(source, remote + (nint)start, data + (nint)start, length);
                }
            }
            ReadersDone();
            return;
        }
        // The source may use the whole bank (every rank's slot, contiguous): quarters of the message,
        // so that copying in and copying out overlap, in pieces no smaller than SmallestBroadcastPiece.
        var bankBytes = Slot * _region.Ranks;
        var piece = Math.Min(bankBytes, Math.Max(SmallestBroadcastPiece, (bytes / 4 + 4095) & ~4095L));
        for (long offset = 0; offset < bytes; offset += piece)
        {
            var n = Math.Min(piece, bytes - offset);
            var bank = _region.NextBank();
            var buffer = _region.Slot(bank, 0);
            if (me == source) Copy(data + (nint)offset, buffer, n);
            _barrier();
            if (me != source) Copy(buffer, data + (nint)offset, n);
        }
    }

    /// <summary>Every rank's block (sizes in <paramref name="bytes"/>, the same on every rank) into <paramref name="receive"/>.</summary>
    /// <remarks>
    /// Always through the slots, even where peers' memory can be read directly: every rank needs every block, so each
    /// is read once per rank either way, and two copies through a slot (into it once, out of it by each peer) take less
    /// time than the kernel's page-by-page copy out of a peer (64 MB blocks of 2 ranks: 19 ms against 23–26 ms).
    /// </remarks>
    public void AllGather(nint send, long[] bytes, nint[] receive)
    {
        var me = _region.Me;
        var largest = bytes.Max();
        if (largest <= Inline)
        {
            if (receive[me] != send) Copy(send, receive[me], bytes[me]);
            var bank = _region.NextBank();
            Copy(send, _region.Inline(bank, me), bytes[me]);
            _barrier();
            for (var rank = 0; rank < _region.Ranks; rank++)
                if (rank != me) Copy(_region.Inline(bank, rank), receive[rank], bytes[rank]);
            return;
        }
        for (long offset = 0; offset < largest; offset += Slot)
        {
            var bank = _region.NextBank();
            var piece = Piece(bytes[me], offset);
            Copy(send + (nint)offset, _region.Slot(bank, me), piece);
            // This rank's own piece too, while it is in cache.
            if (receive[me] != send) Copy(send + (nint)offset, receive[me] + (nint)offset, piece);
            _barrier();
            for (var rank = 0; rank < _region.Ranks; rank++)
                if (rank != me) Copy(_region.Slot(bank, rank), receive[rank] + (nint)offset, Piece(bytes[rank], offset));
        }
    }

    /// <summary>
    /// Every rank's block into <paramref name="receive"/> on <paramref name="destination"/>. Only the destination knows
    /// every size, so each rank publishes its own beside its counter at the first barrier, with the block itself when
    /// it has at most 8 bytes, else the block's address (read from there when large enough) and its first piece in the
    /// slot: everyone then knows how many more pieces the largest block through the slots needs.
    /// </summary>
    public void Gather(nint send, long[] bytes, nint[]? receive, int destination)
    {
        const int Tiny = Inline - sizeof(long);
        var me = _region.Me;
        var mine = bytes[me];
        var sizes = new long[_region.Ranks];
        var bank = _region.NextBank();
        var line = (long*)_region.Inline(bank, me);
        line[0] = mine;
        if (mine <= Tiny) Copy(send, (byte*)(line + 1), mine);
        else line[1] = send;
        if (me != destination && ThroughSlots(mine)) Copy(send, _region.Slot(bank, me), Piece(mine, 0));
        // The destination's slot is free: it holds where each block goes and its size, for senders that write theirs themselves.
        if (me == destination && SingleCopy)
            for (var rank = 0; rank < _region.Ranks; rank++)
            {
                ((long*)_region.Slot(bank, me))[2 * rank] = receive![rank];
                ((long*)_region.Slot(bank, me))[2 * rank + 1] = bytes[rank];
            }
        _barrier();

        long throughSlots = 0;
        var direct = false;
        for (var rank = 0; rank < _region.Ranks; rank++)
        {
            sizes[rank] = *(long*)_region.Inline(bank, rank);
            if (rank == destination) continue;
            if (ThroughSlots(sizes[rank])) throughSlots = Math.Max(throughSlots, sizes[rank]);
            direct |= sizes[rank] > Tiny && !ThroughSlots(sizes[rank]);
        }
        if (me != destination && mine > Tiny && !ThroughSlots(mine))
        {
            // A large block: this rank writes all but the first of Ranks parts into the destination's tensor while the
            // destination reads the first part of every block, so that the destination does not copy everything alone.
            var table = (long*)_region.Slot(bank, destination);
            if (table[2 * me + 1] != mine) throw SizeMismatch(me, mine, destination, table[2 * me + 1]);
            var (_, first) = Part(mine, _region.Ranks, 0);
            Write(destination, (nint)table[2 * me] + (nint)first, send + (nint)first, mine - first);
        }
        if (me == destination)
            for (var rank = 0; rank < _region.Ranks; rank++)
            {
                if (rank == me) continue;
                if (sizes[rank] != bytes[rank]) throw SizeMismatch(rank, sizes[rank], me, bytes[rank]);
                var published = (long*)_region.Inline(bank, rank);
                if (sizes[rank] <= Tiny) Copy((byte*)(published + 1), receive![rank], sizes[rank]);
                else if (ThroughSlots(sizes[rank])) Copy(_region.Slot(bank, rank), receive![rank], Piece(sizes[rank], 0));
                else Read(rank, (nint)published[1], receive![rank], Part(sizes[rank], _region.Ranks, 0).Length);
            }

        // The rest of the blocks through the slots, one piece per rank and barrier.
        for (var offset = Slot; offset < throughSlots; offset += Slot)
        {
            bank = _region.NextBank();
            if (me != destination && ThroughSlots(mine)) Copy(send + (nint)offset, _region.Slot(bank, me), Piece(mine, offset));
            _barrier();
            if (me != destination) continue;
            for (var rank = 0; rank < _region.Ranks; rank++)
                if (rank != me && ThroughSlots(sizes[rank])) Copy(_region.Slot(bank, rank), receive![rank] + (nint)offset, Piece(sizes[rank], offset));
        }
        if (direct) ReadersDone();
        if (me == destination && receive![me] != send) Copy(send, receive[me], mine);

        bool ThroughSlots(long size) => size > Tiny && !(SingleCopy && size >= SingleCopyThreshold);
    }

    private static AccelerateException SizeMismatch(int sender, long sent, int destination, long expected) =>
        new(RuntimeErrorCode.CollectiveMismatch, $"Rank {sender} sent {sent} bytes to Gather where rank {destination} expected {expected}: the ranks called it with different shapes or dtypes. " +
            "Every rank must pass tensors of the same dtype and the same size after dim 0 (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");

    /// <summary>
    /// Reduces <paramref name="input"/> (chunk r has <c>counts[r]</c> elements) and writes chunk <see cref="SharedMemoryRegion.Me"/>
    /// to <paramref name="output"/>. Single copy: each rank reads its chunk of every peer's input in cache-sized pieces and
    /// reduces it into the output. Through the slots: each step, every rank writes its share of every other rank's
    /// chunk into its slot (one piece per rank), then reduces its own chunk's piece from its input and every peer's slot.
    /// </summary>
    public void ReduceScatter(nint input, long[] counts, ElementType type, ReduceOp op, nint output)
    {
        var me = _region.Me;
        var ranks = _region.Ranks;
        var size = type.Size();
        var starts = new long[ranks];
        for (var rank = 1; rank < ranks; rank++) starts[rank] = starts[rank - 1] + counts[rank - 1];
        var largest = counts.Max();
        if (SingleCopy && largest * size >= SingleCopyThreshold)
        {
            var bank = _region.NextBank();
            PublishSplit(bank, counts);
            *(nint*)_region.Slot(bank, me) = input;
            _barrier();
            CheckSplit(bank, counts);
            var scratch = (byte*)NativeMemory.AlignedAlloc((nuint)ReducePiece, 64);
            try
            {
                var perRead = ReducePiece / size;
                for (long offset = 0; offset < counts[me]; offset += perRead)
                {
                    var n = Math.Min(perRead, counts[me] - offset);
                    var result = (byte*)output + offset * size;
                    var at = (starts[me] + offset) * size;
                    for (var step = 1; step < ranks; step++)
                    {
                        var rank = (me + step) % ranks;
                        Read(rank, *(nint*)_region.Slot(bank, rank) + (nint)at, (nint)scratch, n * size);
                        Reduction.Combine(type, op, step == 1 ? (byte*)input + at : result, scratch, result, n);
                    }
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
            ReadersDone();
            return;
        }
        var perPiece = Math.Max(1, Slot / size / ranks);
        for (long offset = 0; offset == 0 || offset < largest; offset += perPiece)
        {
            var bank = _region.NextBank();
            var slot = _region.Slot(bank, me);
            if (offset == 0) PublishSplit(bank, counts);
            for (var rank = 0; rank < ranks; rank++)
                if (rank != me)
                    Copy(input + (nint)((starts[rank] + offset) * size), slot + rank * perPiece * size, Math.Max(0, Math.Min(perPiece, counts[rank] - offset)) * size);
            _barrier();
            if (offset == 0) CheckSplit(bank, counts);
            var n = Math.Max(0, Math.Min(perPiece, counts[me] - offset));
            if (n == 0) continue;
            var result = (byte*)output + offset * size;
            var first = true;
            for (var rank = 0; rank < ranks; rank++)
            {
                if (rank == me) continue;
                var theirs = _region.Slot(bank, rank) + me * perPiece * size;
                Reduction.Combine(type, op, first ? (byte*)input + (starts[me] + offset) * size : result, theirs, result, n);
                first = false;
            }
        }
    }

    /// <summary>The same element count (the signature) split into rows differently would pair up the wrong elements: ranks compare the split.</summary>
    private void PublishSplit(int bank, long[] counts)
    {
        var split = (long*)_region.Inline(bank, _region.Me);
        split[0] = counts[0];
        split[1] = counts[^1];
    }

    private void CheckSplit(int bank, long[] counts)
    {
        for (var rank = 0; rank < _region.Ranks; rank++)
        {
            var split = (long*)_region.Inline(bank, rank);
            if (split[0] != counts[0] || split[1] != counts[^1])
                throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"Rank {rank} splits its ReduceScatter input into chunks of {split[0]}..{split[1]} elements where rank {_region.Me} splits it into {counts[0]}..{counts[^1]}: " +
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
