using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;
using Accelerate.Distributed.SharedMemory;

namespace Accelerate.Distributed.Tcp;

/// <summary>
/// Collectives over a full mesh of TCP connections, with shared memory between the ranks of one
/// machine. Over TCP: recursive doubling for small all-reduces, ring reduce-scatter + all-gather
/// for large ones (bandwidth-optimal), binomial trees for broadcast, rings for gathers of any
/// per-rank size. On one machine, every collective goes through a shared-memory region
/// (<see cref="SharedMemoryCollectives"/>); across machines with the same number of ranks each, all-reduce is hierarchical:
/// reduce-scatter in shared memory, all-reduce of each slice between machines over TCP, all-gather
/// in shared memory. Every shared-memory barrier and every TCP message carries the collective's
/// signature, so that ranks in different collectives, or with different sizes or dtypes, fail
/// instead of exchanging bytes that do not fit together.
/// </summary>
internal sealed unsafe class TcpAndSharedMemoryProcessGroup : CollectiveGroup
{
    /// <summary>All-reduces up to this many bytes use recursive doubling (latency), larger ones the ring (bandwidth).</summary>
    internal const long RingThreshold = 256 * 1024;
    private const int Segment = 512 * 1024;
    /// <summary>Received data is combined in pieces of this size, each while the next is on its way.</summary>
    private const int CombineSegment = 128 * 1024;
    private const long SlotBytes = 1024 * 1024;
    private const long SmallSharedAllReduce = 32 * 1024;
    private readonly PeerLink?[] _links;
    private readonly byte* _scratch;
    private readonly TimeSpan _timeout;
    private readonly Team _world;
    private readonly Team? _local;
    private readonly Team? _crossHost;
    private readonly SharedMemoryRegion? _shared;
    private readonly SharedMemoryCollectives? _sharedCollectives;

    public TcpAndSharedMemoryProcessGroup(int rank, PeerAddress[] peers, System.Net.Sockets.Socket?[] sockets, TimeSpan timeout, bool debugMode, bool useSharedMemory, Action<string> log)
        : base(rank, peers.Length, debugMode)
    {
        Peers = peers;
        _timeout = timeout;
        _links = sockets.Select((s, r) => s is null ? null : new PeerLink(s, peers[r], timeout, rank, () => CurrentOperation, () => Signature)).ToArray();
        _scratch = (byte*)NativeMemory.AlignedAlloc(Segment, 64);
        _world = new Team(Enumerable.Range(0, peers.Length).ToArray(), rank);

        // Every rank derives the same machine layout from the published addresses.
        var hosts = peers.GroupBy(p => p.HostId).Select(g => g.Select(p => p.Rank).Order().ToArray()).OrderBy(h => h[0]).ToArray();
        var mine = hosts.Single(h => h.Contains(rank));
        var uniform = hosts.All(h => h.Length == mine.Length);
        var local = new Team(mine, Array.IndexOf(mine, rank));
        // Ranks that spin while they wait (in shared memory, or briefly on a socket) must not share a core. Ranks of
        // this machine in other network namespaces (containers) run on the same CPUs, so they count too: unbound, the
        // scheduler puts a rank that sleeps in poll beside the one that wakes it, and every message then waits for a
        // context switch (24 us instead of 8 per small all-reduce between two namespaces); bound per namespace, two of
        // them would share one core and each spin away the time slice the other needs.
        var machine = peers.Where(p => p.MachineId == peers[rank].MachineId).Select(p => p.Rank).Order().ToArray();
        if (machine.Length > 1) CpuAffinity.Bind(Array.IndexOf(machine, rank), machine.Length);
        if (!useSharedMemory || mine.Length < 2 || (hosts.Length > 1 && !uniform)) return;

        _shared = MapSharedMemory(local, machine.Length, log);
        if (_shared is null) return;
        _local = local;
        if (hosts.Length > 1) _crossHost = new Team(hosts.Select(h => h[local.Me]).ToArray(), Array.IndexOf(hosts, mine));
        else _sharedCollectives = new SharedMemoryCollectives(_shared, SharedBarrier, peers);
    }

    public override string Backend => _shared is null ? "tcp" : _crossHost is null ? "shm" : "shm+tcp";

    /// <summary>Every rank's address.</summary>
    public PeerAddress[] Peers { get; }

    protected override string DescribeRank(int rank) => Peers[rank].Describe();

    private PeerLink Link(int rank) => _links[rank] ?? throw new InvalidOperationException($"no link to rank {rank}");

    // ---- shared memory set-up ----

    /// <summary>
    /// Maps one region for the ranks of this machine, or none: every rank must have it mapped, so a rank that cannot
    /// open it (its own /dev/shm, as in a container that shares only the network) makes all of them use TCP.
    /// </summary>
    private SharedMemoryRegion? MapSharedMemory(Team local, int machineRanks, Action<string> log)
    {
        const int NameBytes = 256;
        var name = new byte[NameBytes];
        SharedMemoryRegion? region = null;
        string? path = null;
        try
        {
            if (local.Me == 0)
            {
                try
                {
                    path = Path.Combine(SharedDirectory(), $"accelerate-{Environment.ProcessId}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(8))}");
                    region = SharedMemoryRegion.Create(path, local.Size, SlotBytes, machineRanks);
                    Encoding.UTF8.GetBytes(path).CopyTo(name, 0);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    log($"ACC2180: shared memory is unavailable ({e.Message}); ranks on this machine exchange data over TCP loopback. " +
                        "Give the machine (or container) a larger /dev/shm, e.g. docker run --shm-size=1g, to use it.");
                    path = null;
                }
                fixed (byte* n = name)
                    for (var i = 1; i < local.Size; i++) Link(local.Ranks[i]).Send((nint)n, NameBytes);
            }
            else
            {
                fixed (byte* n = name) Link(local.Ranks[0]).Receive((nint)n, NameBytes);
                var text = Encoding.UTF8.GetString(name).TrimEnd('\0');
                try
                {
                    if (text.Length > 0) region = SharedMemoryRegion.Open(text, local.Size, local.Me, SlotBytes, machineRanks);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    log($"ACC2181: cannot open the shared memory of local rank 0 ({e.Message}): this rank has a /dev/shm of its own " +
                        "(a container sharing only the network?). Every rank on this machine exchanges data over TCP loopback; share /dev/shm (docker run --ipc=host) to use it.");
                }
            }

            // Everyone has it mapped, or nobody uses it.
            var missing = region is null ? 1 : 0;
            TeamAllReduce(local, (nint)(&missing), 1, ElementType.Int32, ReduceOp.Sum);
            if (missing > 0 && region is not null)
            {
                if (local.Me == 0)
                    log($"ACC2181: {missing} of the {local.Size} ranks on this machine cannot open its shared memory (their own lines say why); every rank here exchanges data over TCP loopback.");
                region.Dispose();
                region = null;
            }
            return region;
        }
        catch
        {
            region?.Dispose();
            throw;
        }
        finally
        {
            // Once everyone has it mapped, or the set-up failed, the file can go: nothing is left behind in /dev/shm.
            if (path is not null) TryDelete(path);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string SharedDirectory() =>
        Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SharedBarrier()
    {
        var shared = _shared!;
        var mismatch = shared.Barrier(_checkPeer ??= CheckPeer, Signature.Value);
        if (mismatch >= 0)
        {
            var peer = _local!.Ranks[mismatch];
            throw Signature.Mismatch(new CollectiveSignature(shared.PublishedSignature(mismatch)), Rank, Peers[peer].Describe());
        }
    }

    private Action<int, TimeSpan>? _checkPeer;

    private void CheckPeer(int index, TimeSpan waited)
    {
        var link = Link(_local!.Ranks[index]);
        link.CheckAlive();
        if (waited > _timeout) throw link.TimedOut();
    }

    // ---- signatures ----

    protected override bool ComparesSignatures(CollectiveKind kind) => kind switch
    {
        // Shared memory: every rank reads every signature at the first barrier. TCP: every rank
        // receives from a peer at the first step and peers pass a mismatch on (abort notice).
        CollectiveKind.AllReduce or CollectiveKind.Barrier => true,
        // On one machine every collective starts with a shared-memory barrier.
        _ when _sharedCollectives is not null => true,
        // A gather's senders and a broadcast's source receive nothing; in a ring, a rank may have
        // sent on before its neighbour's verdict arrives. These start with an agreement round.
        _ => false,
    };

    // ---- all-reduce ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void AllReduceCore(nint data, long count, ElementType type, ReduceOp op)
    {
        if (WorldSize == 1) return;
        if (_shared is not null) SharedAllReduce(data, count, type, op);
        else TeamAllReduce(_world, data, count, type, op);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SharedAllReduce(nint data, long count, ElementType type, ReduceOp op)
    {
        var shared = _shared!;
        var size = type.Size();
        if (count * size <= SmallSharedAllReduce && _crossHost is null)
        {
            // Small: one signal. Every rank combines all slots in rank order, so all get identical results.
            var bank = shared.NextBank();
            var inline = count * size <= SharedMemoryRegion.InlineBytes;
            byte* Source(int rank) => inline ? shared.Inline(bank, rank) : shared.Slot(bank, rank);
            Buffer.MemoryCopy((void*)data, Source(shared.Me), count * size, count * size);
            SharedBarrier();
            Reduction.Combine(type, op, Source(0), Source(1), (byte*)data, count);
            for (var other = 2; other < shared.Ranks; other++) Reduction.Combine(type, op, (byte*)data, Source(other), count);
            return;
        }
        var perChunk = SlotBytes / size;
        for (long offset = 0; offset < count; offset += perChunk)
        {
            var n = Math.Min(perChunk, count - offset);
            var bank = shared.NextBank();
            var chunk = (byte*)data + offset * size;
            var slot = shared.Slot(bank, shared.Me);
            // Peers need every slice of this rank's chunk but its own, which it reduces straight from the tensor.
            var (start, length) = Slice(n, shared.Ranks, shared.Me);
            Buffer.MemoryCopy(chunk, slot, start * size, start * size);
            var after = (start + length) * size;
            Buffer.MemoryCopy(chunk + after, slot + after, n * size - after, n * size - after);
            SharedBarrier();

            // Each rank reduces one slice of the chunk (and, across machines, all-reduces it with its counterparts).
            var mine = slot + start * size;
            var first = true;
            for (var other = 0; other < shared.Ranks; other++)
            {
                if (other == shared.Me) continue;
                Reduction.Combine(type, op, first ? chunk + start * size : mine, shared.Slot(bank, other) + start * size, mine, length);
                first = false;
            }
            if (_crossHost is not null && length > 0) TeamAllReduce(_crossHost, (nint)mine, length, type, op);
            SharedBarrier();

            for (var owner = 0; owner < shared.Ranks; owner++)
            {
                var (from, elements) = Slice(n, shared.Ranks, owner);
                Buffer.MemoryCopy(shared.Slot(bank, owner) + from * size, chunk + from * size, elements * size, elements * size);
            }
        }
    }

    private static (long Start, long Length) Slice(long count, int parts, int index)
    {
        var start = count / parts * index + Math.Min(index, count % parts);
        return (start, count / parts + (index < count % parts ? 1 : 0));
    }

    private void TeamAllReduce(Team team, nint data, long count, ElementType type, ReduceOp op)
    {
        if (team.Size == 1) return;
        if (count * type.Size() <= RingThreshold || count < team.Size) RecursiveDoubling(team, data, count, type, op);
        else Ring(team, data, count, type, op);
    }

    private void RecursiveDoubling(Team team, nint data, long count, ElementType type, ReduceOp op)
    {
        var bytes = count * type.Size();
        var me = team.Me;
        var power = 1;
        while (power * 2 <= team.Size) power *= 2;
        var extra = team.Size - power;
        // The first 2*extra members pair up so that a power of two takes part in the exchange.
        int virtualRank;
        if (me < 2 * extra)
        {
            if (me % 2 == 0)
            {
                Link(team.Ranks[me + 1]).Send(data, bytes);
                Link(team.Ranks[me + 1]).Receive(data, bytes);
                return;
            }
            ReceiveCombine(Link(team.Ranks[me - 1]), data, count, type, op);
            virtualRank = me / 2;
        }
        else
        {
            virtualRank = me - extra;
        }

        for (var mask = 1; mask < power; mask <<= 1)
        {
            var partner = virtualRank ^ mask;
            var link = Link(team.Ranks[partner < extra ? partner * 2 + 1 : partner + extra]);
            Exchange(link, data, bytes, link, bytes, IncomingPayload.CombineInto(data, type, op, inPlace: true));
        }

        if (me < 2 * extra) Link(team.Ranks[me - 1]).Send(data, bytes);
    }

    private void Ring(Team team, nint data, long count, ElementType type, ReduceOp op)
    {
        var (offsets, counts) = Chunks(count, team.Size);
        RingReduceScatter(team, data, offsets, counts, type, op, shift: 0);
        // Member i now holds the reduced chunk i+1; pass the reduced chunks round the ring.
        var size = type.Size();
        var right = Link(team.Right);
        var left = Link(team.Left);
        for (var step = 0; step < team.Size - 1; step++)
        {
            var send = team.Mod(team.Me + 1 - step);
            var receive = team.Mod(team.Me - step);
            Exchange(right, data + (nint)(offsets[send] * size), counts[send] * size,
                left, counts[receive] * size, IncomingPayload.CopyTo(data + (nint)(offsets[receive] * size)));
        }
    }

    /// <summary>After it, member i holds the fully reduced chunk (i + 1 + shift) mod size.</summary>
    private void RingReduceScatter(Team team, nint data, long[] offsets, long[] counts, ElementType type, ReduceOp op, int shift)
    {
        var size = type.Size();
        var right = Link(team.Right);
        var left = Link(team.Left);
        for (var step = 0; step < team.Size - 1; step++)
        {
            var send = team.Mod(team.Me - step + shift);
            var receive = team.Mod(team.Me - step - 1 + shift);
            Exchange(right, data + (nint)(offsets[send] * size), counts[send] * size,
                left, counts[receive] * size, IncomingPayload.CombineInto(data + (nint)(offsets[receive] * size), type, op, inPlace: false));
        }
    }

    private static (long[] Offsets, long[] Counts) Chunks(long count, int parts)
    {
        var offsets = new long[parts];
        var counts = new long[parts];
        for (var i = 0; i < parts; i++) (offsets[i], counts[i]) = Slice(count, parts, i);
        return (offsets, counts);
    }

    /// <summary>Receives a message of <paramref name="count"/> elements and combines it into <paramref name="accumulator"/> segment by segment.</summary>
    private void ReceiveCombine(PeerLink link, nint accumulator, long count, ElementType type, ReduceOp op) =>
        PeerLink.Transfer(null, 0, 0, link, count * type.Size(), IncomingPayload.CombineInto(accumulator, type, op, inPlace: false), _scratch, Segment, CombineSegment);

    /// <summary>Sends to one peer while receiving from another (or the same) on this thread, without deadlock on large messages.</summary>
    private void Exchange(PeerLink to, nint send, long sendBytes, PeerLink from, long receiveBytes, IncomingPayload incoming) =>
        PeerLink.Transfer(to, send, sendBytes, from, receiveBytes, incoming, _scratch, Segment, CombineSegment);

    // ---- broadcast and gathers ----

    protected override void BroadcastCore(nint data, long bytes, int source)
    {
        if (WorldSize == 1) return;
        if (_sharedCollectives is not null)
        {
            _sharedCollectives.Broadcast(data, bytes, source);
            return;
        }
        var relative = _world.Mod(Rank - source);
        var mask = 1;
        while (mask < WorldSize)
        {
            if ((relative & mask) != 0)
            {
                Link(_world.Mod(relative - mask + source)).Receive(data, bytes);
                break;
            }
            mask <<= 1;
        }
        for (mask >>= 1; mask > 0; mask >>= 1)
            if (relative + mask < WorldSize)
                Link(_world.Mod(relative + mask + source)).Send(data, bytes);
    }

    protected override void AllGatherCore(nint send, long[] bytes, nint[] receive)
    {
        if (_sharedCollectives is not null)
        {
            _sharedCollectives.AllGather(send, bytes, receive);
            return;
        }
        if (receive[Rank] != send) Buffer.MemoryCopy((void*)send, (void*)receive[Rank], bytes[Rank], bytes[Rank]);
        if (WorldSize == 1) return;
        var right = Link(_world.Right);
        var left = Link(_world.Left);
        for (var step = 0; step < WorldSize - 1; step++)
        {
            var outgoing = _world.Mod(Rank - step);
            var incoming = _world.Mod(Rank - step - 1);
            Exchange(right, receive[outgoing], bytes[outgoing], left, bytes[incoming], IncomingPayload.CopyTo(receive[incoming]));
        }
    }

    protected override void GatherCore(nint send, long[] bytes, nint[]? receive, int destination)
    {
        if (_sharedCollectives is not null)
        {
            _sharedCollectives.Gather(send, bytes, receive, destination);
            return;
        }
        if (Rank != destination)
        {
            Link(destination).Send(send, bytes[Rank]);
            return;
        }
        Buffer.MemoryCopy((void*)send, (void*)receive![Rank], bytes[Rank], bytes[Rank]);
        for (var r = 0; r < WorldSize; r++)
            if (r != Rank) Link(r).Receive(receive[r], bytes[r]);
    }

    protected override bool ReduceScatterKeepsInput => _sharedCollectives is not null;

    protected override void ReduceScatterCore(nint scratch, long[] counts, ElementType type, ReduceOp op, nint output)
    {
        if (_sharedCollectives is not null)
        {
            _sharedCollectives.ReduceScatter(scratch, counts, type, op, output);
            return;
        }
        var size = type.Size();
        var offsets = new long[WorldSize];
        for (var r = 1; r < WorldSize; r++) offsets[r] = offsets[r - 1] + counts[r - 1];
        if (WorldSize > 1) RingReduceScatter(_world, scratch, offsets, counts, type, op, shift: -1);
        Buffer.MemoryCopy((byte*)scratch + offsets[Rank] * size, (void*)output, counts[Rank] * size, counts[Rank] * size);
    }

    protected override void BarrierCore()
    {
        if (_shared is not null && _crossHost is null)
        {
            SharedBarrier();
            return;
        }
        var token = 0;
        TeamAllReduce(_world, (nint)(&token), 1, ElementType.Int32, ReduceOp.Sum);
    }

    protected override void Abort(Exception failure)
    {
        var reason = $"rank {Rank} failed: {failure.Message}";
        var mismatch = failure is AccelerateException { Code: RuntimeErrorCode.CollectiveMismatch };
        foreach (var link in _links) link?.SendAbort(reason, mismatch);
        foreach (var link in _links) link?.Dispose();
    }

    protected override void Close()
    {
        foreach (var link in _links) link?.Dispose();
        _shared?.Dispose();
        NativeMemory.AlignedFree(_scratch);
    }
}
