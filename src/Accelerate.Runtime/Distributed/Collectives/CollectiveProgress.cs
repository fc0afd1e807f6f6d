using System.Text;
using System.Text.Json;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// Debug mode's record of where every rank is: each rank publishes the collective it enters
/// (sequence number, operation, call site) to the rendezvous store, which rank 0 keeps serving
/// beside the collective connections, and bumps a heartbeat there from a background thread. When a
/// collective times out, the rank reads every rank's record from the store (it does not need the
/// stuck collective's connections) and says which rank is behind and where: the call site of its
/// last collective while it still runs, or that it published nothing since (its heartbeat stopped:
/// SIGSTOP, a debugger, swapping) — what torch's TORCH_DISTRIBUTED_DEBUG=DETAIL flight recorder
/// tells after a hang.
/// </summary>
internal sealed class CollectiveProgress : IDisposable
{
    /// <summary>What a collective timeout advises outside debug mode.</summary>
    internal const string TimeoutAdvice = "Set ACCELERATE_DEBUG_MODE=true (--debug) to compare the collectives ranks call, or raise ACCELERATE_COLLECTIVE_TIMEOUT for long pauses between collectives.";

    /// <summary>What it advises in debug mode, where the report that follows names the rank behind.</summary>
    internal const string TimeoutAdviceInDebugMode = "Raise ACCELERATE_COLLECTIVE_TIMEOUT if the pause between these collectives is expected.";

    /// <summary>How often each rank bumps its heartbeat.</summary>
    internal static readonly TimeSpan BeatInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a report watches the heartbeats: a rank whose heartbeat did not move in it is stopped or frozen.</summary>
    internal static readonly TimeSpan LivenessWindow = TimeSpan.FromSeconds(5);

    private readonly StoreClient _store;
    private readonly StoreClient _beats;
    private readonly StoreServer? _server;
    private readonly int _rank;
    private readonly int _worldSize;
    private readonly string _prefix;
    private readonly Thread _beating;
    private readonly ManualResetEventSlim _stopping = new();
    private volatile bool _unavailable;

    private CollectiveProgress(StoreClient store, StoreClient beats, StoreServer? server, int rank, int worldSize, string prefix)
    {
        _store = store;
        _beats = beats;
        _server = server;
        _rank = rank;
        _worldSize = worldSize;
        _prefix = prefix + "progress/";
        _beating = new Thread(Beat) { IsBackground = true, Name = "accelerate-debug-heartbeat" };
        _beating.Start();
    }

    /// <summary>
    /// Connects twice to the store at <paramref name="host"/>:<paramref name="port"/> (one connection for the
    /// heartbeat, so a report never waits behind it). <paramref name="server"/> is rank 0's store, disposed with this.
    /// </summary>
    public static CollectiveProgress Connect(string host, int port, MembershipProof proof, int rank, int worldSize, TimeSpan timeout, StoreServer? server)
    {
        var deadline = DateTime.UtcNow + timeout;
        StoreClient? store = null;
        try
        {
            store = StoreClient.Connect(host, port, proof, deadline, rank);
            var beats = StoreClient.Connect(host, port, proof, deadline, rank);
            // A frozen rank 0 must not hold up a collective for long: the collective's own timeout names it.
            store.Grace = beats.Grace = TimeSpan.FromSeconds(5);
            return new CollectiveProgress(store, beats, server, rank, worldSize, RendezvousJoin.KeyPrefix());
        }
        catch
        {
            store?.Dispose();
            server?.Dispose();
            throw;
        }
    }

    /// <summary>Publishes that this rank enters collective <paramref name="sequence"/> (numbered from 1 on every rank alike).</summary>
    public void Entered(long sequence, string operation, string callSite)
    {
        if (_unavailable) return;
        try
        {
            _store.Set(_prefix + "at/" + _rank, JsonSerializer.SerializeToUtf8Bytes(new Entry(sequence, operation, callSite)));
        }
        catch (AccelerateException)
        {
            // Rank 0 is gone or frozen: collectives go on without the record, and a timeout says so.
            _unavailable = true;
        }
    }

    /// <summary>
    /// What every other rank is doing while this one timed out in collective <paramref name="sequence"/>:
    /// one sentence per rank (behind, stopped, in the same collective, ahead), read from the store.
    /// Takes up to <see cref="LivenessWindow"/>, to tell running ranks from stopped ones.
    /// </summary>
    public string Describe(long sequence, Func<int, string> describeRank)
    {
        try
        {
            var before = ReadBeats();
            var alive = new bool[_worldSize];
            var watchUntil = DateTime.UtcNow + LivenessWindow;
            while (true)
            {
                var now = ReadBeats();
                for (var r = 0; r < _worldSize; r++) alive[r] |= now[r] != before[r];
                if (Enumerable.Range(0, _worldSize).All(r => r == _rank || alive[r]) || DateTime.UtcNow >= watchUntil) break;
                Thread.Sleep(100); // polling another process's heartbeat, not synchronisation
            }
            var entries = Enumerable.Range(0, _worldSize).Select(ReadEntry).ToArray();
            var behind = Enumerable.Range(0, _worldSize).Where(r => r != _rank && (entries[r]?.Sequence ?? 0) < sequence).ToList();
            var text = new StringBuilder("Debug mode: ");
            text.Append(behind.Count switch
            {
                0 => "no rank is behind this one. ",
                1 => $"rank {behind[0]} is behind. ",
                _ => $"ranks {string.Join(", ", behind)} are behind. ",
            });
            text.Append($"This rank (rank {_rank}) timed out in collective #{sequence}");
            if (entries[_rank] is { } own && own.Sequence == sequence) text.Append($" ({own.Operation} at {own.CallSite})");
            text.Append('.');
            foreach (var r in Enumerable.Range(0, _worldSize).Where(r => r != _rank))
            {
                var who = describeRank(r);
                text.Append(' ').Append(Sentence(char.ToUpperInvariant(who[0]) + who[1..], entries[r], alive[r], sequence));
            }
            Reported(sequence, entries, alive);
            return text.ToString();
        }
        catch (AccelerateException e)
        {
            return $"Debug mode could not read the other ranks' progress from the store on rank 0 ({e.Message}): rank 0 is stopped, frozen or gone.";
        }
    }

    /// <summary>
    /// Says in the store that this rank has read what it needed. Rank 0 serves the store and its process ends with its own
    /// timeout: ranks waiting in the same collective time out about as it does and read the store then, so rank 0 stays
    /// until each has (at most <see cref="LingerWindow"/>) rather than leave them a closed store.
    /// </summary>
    private void Reported(long sequence, Entry?[] entries, bool[] alive)
    {
        _store.Set(_prefix + "reported/" + _rank, [1]);
        if (_server is null) return;
        var waiting = Enumerable.Range(0, _worldSize).Where(r => r != _rank && entries[r]?.Sequence == sequence && alive[r]).Select(r => _prefix + "reported/" + r).ToArray();
        if (waiting.Length > 0) _store.Wait(waiting, LingerWindow);
    }

    /// <summary>How long rank 0 keeps the store up after its own timeout for ranks that time out in the same collective.</summary>
    internal static readonly TimeSpan LingerWindow = TimeSpan.FromSeconds(15);

    private static string Sentence(string who, Entry? entry, bool alive, long sequence)
    {
        var stopped = $"it is stopped or frozen (SIGSTOP, a debugger, swapping): its heartbeat did not move in {LivenessWindow.TotalSeconds:0} s";
        if (entry is null)
            return alive
                ? $"{who} has not reached collective #{sequence}: it has called no collective yet, and it is running."
                : $"{who} has not reached collective #{sequence} and published nothing since it joined: {stopped}.";
        var last = $"#{entry.Sequence} {entry.Operation} at {entry.CallSite}";
        if (entry.Sequence < sequence)
            return alive
                ? $"{who} has not reached collective #{sequence}: its last collective was {last}, and it is running (a long step, or a branch that skips collective #{sequence} on that rank)."
                : $"{who} has not reached collective #{sequence} and published nothing since collective {last}: {stopped}.";
        if (entry.Sequence == sequence)
            return alive
                ? $"{who} is in collective #{sequence} too ({entry.Operation} at {entry.CallSite}), waiting."
                : $"{who} entered collective {last} and published nothing since: {stopped}.";
        return $"{who} is ahead, in collective {last}.";
    }

    private long?[] ReadBeats() =>
        Enumerable.Range(0, _worldSize).Select(r => _store.Get(_prefix + "beat/" + r, TimeSpan.Zero) is { } bytes && long.TryParse(Encoding.ASCII.GetString(bytes), out var n) ? n : (long?)null).ToArray();

    private Entry? ReadEntry(int rank) =>
        _store.Get(_prefix + "at/" + rank, TimeSpan.Zero) is { } bytes ? JsonSerializer.Deserialize<Entry>(bytes) : null;

    private void Beat()
    {
        try
        {
            do _beats.Add(_prefix + "beat/" + _rank, 1);
            while (!_stopping.Wait(BeatInterval));
        }
        catch (AccelerateException)
        {
            // Rank 0 left or froze: nothing left to tell.
        }
        catch (ObjectDisposedException)
        {
            // Disposed while bumping.
        }
    }

    public void Dispose()
    {
        _stopping.Set();
        _beats.Dispose();
        _beating.Join(TimeSpan.FromSeconds(1));
        _store.Dispose();
        _server?.Dispose();
        _stopping.Dispose();
    }

    private sealed record Entry(long Sequence, string Operation, string CallSite);
}
