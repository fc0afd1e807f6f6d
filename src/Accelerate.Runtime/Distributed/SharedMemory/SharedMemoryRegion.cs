using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Accelerate.Distributed.SharedMemory;

/// <summary>
/// A file in /dev/shm mapped by every rank of one machine: one 64-byte line per rank holding its
/// barrier counter, then two banks (double buffering) of one slot per rank. Ranks signal each other
/// by bumping their own counter and spinning on the others' (no syscalls on the fast path); while
/// they wait they check, now and then, that the peers they wait for are still alive. Beside the
/// counter each rank publishes the signature of the collective it is in, which peers compare
/// once it has arrived (same cache line, so the check costs nothing visible).
/// </summary>
internal sealed unsafe class SharedMemoryRegion : IDisposable
{
    private const int Line = 64;
    private const int BusySpins = 20_000;

    /// <summary>
    /// How long a rank with a core of its own polls before it starts yielding. A rank that yields on a busy machine
    /// gets its core back only after every other runnable process had its turn (milliseconds), so yielding after a
    /// few microseconds, as a large copy or a preempted peer easily makes it wait, turned 0.1 ms steps into 10 ms ones.
    /// </summary>
    private const long SpinMilliseconds = 50;
    private readonly bool _yieldEarly;
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private long _generation;
    private int _bank;

    private SharedMemoryRegion(MemoryMappedFile file, int ranks, int me, long slotBytes, int machineRanks)
    {
        _file = file;
        _view = file.CreateViewAccessor(0, Length(ranks, slotBytes));
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        Ranks = ranks;
        Me = me;
        SlotBytes = slotBytes;
        // More ranks than CPUs (counting those of other network namespaces on this machine): the peer a rank waits
        // for may need its core, so it yields after BusySpins.
        _yieldEarly = Environment.ProcessorCount < Math.Max(ranks, machineRanks);
    }

    /// <summary>Ranks sharing the region.</summary>
    public int Ranks { get; }

    /// <summary>This rank's index among them.</summary>
    public int Me { get; }

    /// <summary>Bytes in one slot.</summary>
    public long SlotBytes { get; }

    private static long Length(int ranks, long slotBytes) => (long)Line * ranks + 2L * ranks * slotBytes;

    /// <summary>
    /// Creates the file (by the first rank of the machine): new (never one that exists), readable and writable by
    /// this user only, with its whole length reserved, so that a full /dev/shm fails here, with an
    /// <see cref="IOException"/>, instead of killing a rank with SIGBUS when it first touches a page. A file it
    /// created is removed again when anything fails.
    /// </summary>
    public static SharedMemoryRegion Create(string path, int ranks, long slotBytes, int machineRanks = 0)
    {
        var length = Length(ranks, slotBytes);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var stream = new FileStream(path, options);
        try
        {
            var error = PosixFallocate((int)stream.SafeFileHandle.DangerousGetHandle(), 0, length);
            if (error != 0)
                throw new IOException($"cannot reserve {length / (1024.0 * 1024.0):0.#} MiB in {Path.GetDirectoryName(path)} " +
                    $"({Marshal.GetPInvokeErrorMessage(error)}); it is too small or full");
            var file = MemoryMappedFile.CreateFromFile(stream, null, length, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            return new SharedMemoryRegion(file, ranks, 0, slotBytes, machineRanks);
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    [DllImport("libc", EntryPoint = "posix_fallocate")]
    private static extern int PosixFallocate(int fd, long offset, long length);

    /// <summary>Maps the file the first rank created.</summary>
    public static SharedMemoryRegion Open(string path, int ranks, int me, long slotBytes, int machineRanks = 0)
    {
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        return new SharedMemoryRegion(file, ranks, me, slotBytes, machineRanks);
    }

    /// <summary>
    /// The bank the next step writes: banks alternate, so a rank writes a bank again only after a barrier that every
    /// peer reached once done reading it. Every collective on the region takes its banks from here.
    /// </summary>
    public int NextBank()
    {
        var bank = _bank;
        _bank ^= 1;
        return bank;
    }

    /// <summary>Bytes of payload that fit beside a rank's counter, per bank.</summary>
    public const int InlineBytes = 16;

    /// <summary>
    /// Room for a tiny payload in rank <paramref name="rank"/>'s counter line (bank
    /// <paramref name="bank"/>): a peer that sees the counter move gets the data with the same cache line.
    /// </summary>
    public byte* Inline(int bank, int rank) => _base + (long)Line * rank + sizeof(long) + bank * InlineBytes;

    /// <summary>Rank <paramref name="rank"/>'s slot in bank <paramref name="bank"/>.</summary>
    public byte* Slot(int bank, int rank) => _base + (long)Line * Ranks + ((long)bank * Ranks + rank) * SlotBytes;

    private long* Counter(int rank) => (long*)(_base + (long)Line * rank);

    // Two signature words after the inline banks, by barrier parity: a rank may publish the next
    // barrier's signature while a slower peer still reads this one's, never the one after.
    private long* Signature(int rank, long generation) => (long*)(_base + (long)Line * rank + sizeof(long) + 2 * InlineBytes) + (generation & 1);

    /// <summary>The signature rank <paramref name="rank"/> published at the last barrier.</summary>
    public long PublishedSignature(int rank) => Volatile.Read(ref *Signature(rank, _generation));

    /// <summary>
    /// Returns when every rank has arrived: -1 when all published <paramref name="signature"/>,
    /// else the first rank that published another (see <see cref="PublishedSignature"/>).
    /// <paramref name="checkPeers"/> runs about every 20 ms while waiting and throws when a peer
    /// is gone or the deadline passed.
    /// </summary>
    // Optimized from the first call: as tier-0 code the spin loop notices a peer's arrival late.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Barrier(Action<int, TimeSpan> checkPeers, long signature)
    {
        var generation = ++_generation;
        // Payload, signature and counter share this rank's line and are written back to back, with no fence between
        // (the counter's release store orders them): a peer polling the line takes it over once, not once per store.
        *Signature(Me, generation) = signature;
        Volatile.Write(ref *Counter(Me), generation);
        var started = Environment.TickCount64;
        var nextCheck = started + 20;
        var yielding = false;
        for (var rank = 0; rank < Ranks; rank++)
        {
            // Busy-wait first (a peer on another core arrives within microseconds, or once its copy is done), then yield the core.
            for (var spins = 0; Volatile.Read(ref *Counter(rank)) < generation; spins++)
            {
                // Plain polling, no PAUSE: under a hypervisor, PAUSE loops can make it deschedule the vCPU.
                if (spins < BusySpins) continue;
                if (yielding) Thread.Yield();
                if ((spins & 63) != 0) continue;
                var now = Environment.TickCount64;
                if (now >= nextCheck)
                {
                    try
                    {
                        checkPeers(rank, TimeSpan.FromMilliseconds(now - started));
                    }
                    catch (AccelerateException) when (Volatile.Read(ref *Counter(rank)) >= generation)
                    {
                        // It arrived after the last poll and has left since (its program ended): not a failure.
                    }
                    nextCheck = now + 20;
                }
                yielding = _yieldEarly || now - started >= SpinMilliseconds;
            }
        }
        // The counters were read with acquire semantics: what their owners wrote before them is visible.
        for (var rank = 0; rank < Ranks; rank++)
            if (*Signature(rank, generation) != signature) return rank;
        return -1;
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
