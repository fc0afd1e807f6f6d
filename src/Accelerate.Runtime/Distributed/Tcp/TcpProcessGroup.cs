using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Distributed.Tcp;

/// <summary>
/// Collectives over a full mesh of TCP connections: recursive doubling for small all-reduces,
/// ring reduce-scatter + all-gather for large ones (bandwidth-optimal), binomial trees for
/// broadcast, rings for gathers of any per-rank size.
/// </summary>
internal sealed unsafe class TcpProcessGroup : CollectiveGroup
{
    /// <summary>All-reduces up to this many bytes use recursive doubling (latency), larger ones the ring (bandwidth).</summary>
    internal const long RingThreshold = 256 * 1024;
    private const int Segment = 512 * 1024;
    private readonly PeerLink?[] _links;
    private readonly byte* _scratch;

    public TcpProcessGroup(int rank, PeerAddress[] peers, System.Net.Sockets.Socket?[] sockets, TimeSpan timeout, bool debugMode)
        : base(rank, peers.Length, debugMode)
    {
        Peers = peers;
        _links = sockets.Select((s, r) => s is null ? null : new PeerLink(s, peers[r], timeout, () => CurrentOperation)).ToArray();
        _scratch = (byte*)NativeMemory.AlignedAlloc(Segment, 64);
    }

    public override string Backend => "tcp";

    /// <summary>Every rank's address.</summary>
    public PeerAddress[] Peers { get; }

    private PeerLink Link(int rank) => _links[rank] ?? throw new InvalidOperationException($"no link to rank {rank}");

    // ---- all-reduce ----

    protected override void AllReduceCore(nint data, long count, ElementType type, ReduceOp op)
    {
        if (WorldSize == 1) return;
        if (count * type.Size() <= RingThreshold || count < WorldSize) RecursiveDoubling(data, count, type, op);
        else Ring(data, count, type, op);
    }

    private void RecursiveDoubling(nint data, long count, ElementType type, ReduceOp op)
    {
        var bytes = count * type.Size();
        var power = 1;
        while (power * 2 <= WorldSize) power *= 2;
        var extra = WorldSize - power;
        // The first 2*extra ranks pair up so that a power of two takes part in the exchange.
        int virtualRank;
        if (Rank < 2 * extra)
        {
            if (Rank % 2 == 0)
            {
                Link(Rank + 1).Send(data, bytes);
                Link(Rank + 1).Receive(data, bytes);
                return;
            }
            ReceiveCombine(Link(Rank - 1), data, count, type, op);
            virtualRank = Rank / 2;
        }
        else
        {
            virtualRank = Rank - extra;
        }

        for (var mask = 1; mask < power; mask <<= 1)
        {
            var partner = virtualRank ^ mask;
            var link = Link(partner < extra ? partner * 2 + 1 : partner + extra);
            Exchange(link, data, bytes, () => ReceiveCombine(link, data, count, type, op), copyFirst: true);
        }

        if (Rank < 2 * extra) Link(Rank - 1).Send(data, bytes);
    }

    private void Ring(nint data, long count, ElementType type, ReduceOp op)
    {
        var (offsets, counts) = Chunks(count);
        RingReduceScatter(data, offsets, counts, type, op, shift: 0);
        // Rank r now holds the reduced chunk r+1; pass the reduced chunks round the ring.
        var size = type.Size();
        var right = Link((Rank + 1) % WorldSize);
        var left = Link((Rank - 1 + WorldSize) % WorldSize);
        for (var step = 0; step < WorldSize - 1; step++)
        {
            var send = Mod(Rank + 1 - step);
            var receive = Mod(Rank - step);
            Exchange(right, data + (nint)(offsets[send] * size), counts[send] * size,
                () => left.Receive(data + (nint)(offsets[receive] * size), counts[receive] * size));
        }
    }

    /// <summary>After it, rank r holds the fully reduced chunk (r + 1 + shift) mod P.</summary>
    private void RingReduceScatter(nint data, long[] offsets, long[] counts, ElementType type, ReduceOp op, int shift)
    {
        var size = type.Size();
        var right = Link((Rank + 1) % WorldSize);
        var left = Link((Rank - 1 + WorldSize) % WorldSize);
        for (var step = 0; step < WorldSize - 1; step++)
        {
            var send = Mod(Rank - step + shift);
            var receive = Mod(Rank - step - 1 + shift);
            Exchange(right, data + (nint)(offsets[send] * size), counts[send] * size,
                () => ReceiveCombine(left, data + (nint)(offsets[receive] * size), counts[receive], type, op));
        }
    }

    private (long[] Offsets, long[] Counts) Chunks(long count)
    {
        var counts = SplitRows(count);
        var offsets = new long[WorldSize];
        for (var r = 1; r < WorldSize; r++) offsets[r] = offsets[r - 1] + counts[r - 1];
        return (offsets, counts);
    }

    private int Mod(int value) => ((value % WorldSize) + WorldSize) % WorldSize;

    /// <summary>Receives a message of <paramref name="count"/> elements and combines it into <paramref name="accumulator"/> segment by segment.</summary>
    private void ReceiveCombine(PeerLink link, nint accumulator, long count, ElementType type, ReduceOp op)
    {
        var size = type.Size();
        link.ExpectMessage(count * size);
        var perSegment = Segment / size;
        for (long done = 0; done < count; done += perSegment)
        {
            var n = Math.Min(perSegment, count - done);
            link.ReadPayload((nint)_scratch, n * size);
            Reduction.Combine(type, op, (byte*)accumulator + done * size, _scratch, n);
        }
    }

    /// <summary>Sends to one peer while receiving from another (or the same), without deadlock on large messages.</summary>
    private static void Exchange(PeerLink to, nint send, long bytes, Action receive, bool copyFirst = false)
    {
        if (bytes <= 64 * 1024)
        {
            // Fits in the socket buffers: send first, then receive.
            to.Send(send, bytes);
            receive();
            return;
        }
        nint source = send;
        byte* copy = null;
        if (copyFirst)
        {
            // The receive combines into the same buffer: send a snapshot.
            copy = (byte*)NativeMemory.Alloc((nuint)bytes);
            Buffer.MemoryCopy((void*)send, copy, bytes, bytes);
            source = (nint)copy;
        }
        var sending = Task.Factory.StartNew(() => to.Send(source, bytes), TaskCreationOptions.LongRunning);
        try
        {
            receive();
            sending.GetAwaiter().GetResult();
        }
        catch
        {
            sending.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            throw;
        }
        finally
        {
            if (copy != null && sending.IsCompleted) NativeMemory.Free(copy);
        }
    }

    // ---- broadcast and gathers ----

    protected override void BroadcastCore(nint data, long bytes, int source)
    {
        if (WorldSize == 1) return;
        var relative = Mod(Rank - source);
        var mask = 1;
        while (mask < WorldSize)
        {
            if ((relative & mask) != 0)
            {
                Link(Mod(relative - mask + source)).Receive(data, bytes);
                break;
            }
            mask <<= 1;
        }
        for (mask >>= 1; mask > 0; mask >>= 1)
            if (relative + mask < WorldSize)
                Link(Mod(relative + mask + source)).Send(data, bytes);
    }

    protected override void AllGatherCore(nint send, long[] bytes, nint[] receive)
    {
        if (receive[Rank] != send) Buffer.MemoryCopy((void*)send, (void*)receive[Rank], bytes[Rank], bytes[Rank]);
        if (WorldSize == 1) return;
        var right = Link((Rank + 1) % WorldSize);
        var left = Link((Rank - 1 + WorldSize) % WorldSize);
        for (var step = 0; step < WorldSize - 1; step++)
        {
            var outgoing = Mod(Rank - step);
            var incoming = Mod(Rank - step - 1);
            Exchange(right, receive[outgoing], bytes[outgoing], () => left.Receive(receive[incoming], bytes[incoming]));
        }
    }

    protected override void GatherCore(nint send, long[] bytes, nint[]? receive, int destination)
    {
        if (Rank != destination)
        {
            Link(destination).Send(send, bytes[Rank]);
            return;
        }
        Buffer.MemoryCopy((void*)send, (void*)receive![Rank], bytes[Rank], bytes[Rank]);
        for (var r = 0; r < WorldSize; r++)
            if (r != Rank) Link(r).Receive(receive[r], bytes[r]);
    }

    protected override void ReduceScatterCore(nint scratch, long[] counts, ElementType type, ReduceOp op, nint output)
    {
        var size = type.Size();
        var offsets = new long[WorldSize];
        for (var r = 1; r < WorldSize; r++) offsets[r] = offsets[r - 1] + counts[r - 1];
        if (WorldSize > 1) RingReduceScatter(scratch, offsets, counts, type, op, shift: -1);
        Buffer.MemoryCopy((byte*)scratch + offsets[Rank] * size, (void*)output, counts[Rank] * size, counts[Rank] * size);
    }

    protected override void BarrierCore()
    {
        var token = 0;
        AllReduceCore((nint)(&token), 1, ElementType.Int32, ReduceOp.Sum);
    }

    protected override void Abort(Exception failure)
    {
        var reason = $"rank {Rank} failed: {failure.Message}";
        foreach (var link in _links) link?.SendAbort(reason);
        foreach (var link in _links) link?.Dispose();
    }

    protected override void Close()
    {
        foreach (var link in _links) link?.Dispose();
        NativeMemory.AlignedFree(_scratch);
    }
}
