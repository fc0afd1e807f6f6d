using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Accelerate.Distributed;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>Ranks meeting in this process, with hostile connections made by the test to their listeners.</summary>
[TestClass]
public sealed class RendezvousJoinTests
{
    private static readonly TimeSpan RendezvousTimeout = TimeSpan.FromSeconds(60);
    private readonly string _secret = RankProcesses.NewSecret();
    private readonly int _port = RankProcesses.FreePort();
    private readonly ConcurrentQueue<string> _log = new();

    [TestMethod]
    public void An_idle_connection_to_a_ranks_peer_listener_does_not_hold_up_the_join()
    {
        var rank0 = StartRank(0);
        var listener = PublishedAddress(0);
        using var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        idle.Connect(IPAddress.Parse(listener.Address), listener.Port);
        using var garbage = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        garbage.Connect(IPAddress.Parse(listener.Address), listener.Port);
        garbage.Send("GET / HTTP/1.1\r\n"u8);

        var rank1 = StartRank(1);
        try
        {
            Assert.IsTrue(Task.WaitAll([rank0, rank1], TimeSpan.FromSeconds(30)),
                $"the ranks did not meet while a stranger held a connection open. Log:\n{string.Join("\n", _log)}");
            Assert.IsNotNull(rank0.Result.Links[1]);
            Assert.IsNotNull(rank1.Result.Links[0]);
        }
        finally
        {
            idle.Dispose();
            garbage.Dispose();
            Release(rank0, rank1);
        }
    }

    [TestMethod]
    public void A_stranger_dripping_bytes_at_a_peer_listener_is_cut_off_at_the_handshake_deadline()
    {
        var rank0 = StartRank(0, handshakeTimeout: TimeSpan.FromSeconds(2));
        var listener = PublishedAddress(0);
        Task<RendezvousResult>? rank1 = null;
        using var dripper = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            dripper.Connect(IPAddress.Parse(listener.Address), listener.Port);
            var started = DateTime.UtcNow;
            var closed = false;
            while (!closed && DateTime.UtcNow - started < TimeSpan.FromSeconds(40))
            {
                try
                {
                    dripper.Send([0x41]);
                    // The 36-byte challenge comes first; after it, anything readable is the end of the connection.
                    if (dripper.Poll(500_000, SelectMode.SelectRead)) closed = dripper.Receive(new byte[64]) is var n && n == 0;
                }
                catch (SocketException)
                {
                    closed = true;
                }
            }

            Assert.IsTrue(closed, "the peer listener still held the dripping connection after 40 s");
            Assert.IsLessThan(TimeSpan.FromSeconds(20), DateTime.UtcNow - started, "cut off near the 2 s handshake deadline");
            // The connection closes a moment before the refusal is logged.
            var logged = DateTime.UtcNow.AddSeconds(30);
            while (!_log.Any(line => line.Contains("did not finish the membership challenge within 2 s", StringComparison.Ordinal)) && DateTime.UtcNow < logged)
                Thread.Sleep(50); // polling interval of a deadline-bounded wait
            Assert.IsTrue(_log.Any(line => line.Contains("did not finish the membership challenge within 2 s", StringComparison.Ordinal)), string.Join("\n", _log));
            rank1 = StartRank(1);
            Assert.IsTrue(Task.WaitAll([rank0, rank1], TimeSpan.FromSeconds(30)), string.Join("\n", _log));
        }
        finally
        {
            Release(rank1 is null ? [rank0] : [rank0, rank1]);
        }
    }

    [TestMethod]
    public void A_job_whose_store_is_on_loopback_listens_on_loopback_only()
    {
        var rank0 = StartRank(0);
        var peerListener = PublishedAddress(0);
        Task<RendezvousResult>? rank1 = null;
        try
        {
            var listening = ListeningAddresses(_port).Concat(ListeningAddresses(peerListener.Port)).ToList();
            Assert.HasCount(2, listening, "the store and rank 0's peer listener");
            foreach (var address in listening)
                Assert.IsTrue(address.StartsWith("127.0.0.1:", StringComparison.Ordinal) || address.StartsWith("[::ffff:127.0.0.1]:", StringComparison.Ordinal),
                    $"{address} is reachable from other machines although every rank meets on loopback");
            rank1 = StartRank(1);
            Assert.IsTrue(Task.WaitAll([rank0, rank1], TimeSpan.FromSeconds(60)), string.Join("\n", _log));
        }
        finally
        {
            Release(rank1 is null ? [rank0] : [rank0, rank1]);
        }
    }

    /// <summary>The local addresses TCP listeners on <paramref name="port"/> are bound to, as ss prints them.</summary>
    private static IEnumerable<string> ListeningAddresses(int port)
    {
        var start = new ProcessStartInfo("ss", ["-Hltn", "sport", "=", $":{port}"]) { RedirectStandardOutput = true };
        using var ss = Process.Start(start)!;
        var lines = ss.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        ss.WaitForExit();
        return lines.Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);
    }

    private Task<RendezvousResult> StartRank(int rank, TimeSpan? handshakeTimeout = null)
    {
        var environment = new DistributedEnvironment(rank, rank, 2, 2, 0, 1, "127.0.0.1", _port, _secret, "accelerate");
        return Task.Run(() => RendezvousJoin.Join(environment, new MembershipProof(_secret), RendezvousTimeout, _log.Enqueue, handshakeTimeout));
    }

    /// <summary>What rank <paramref name="rank"/> published at the store: where its peer listener is.</summary>
    private PeerAddress PublishedAddress(int rank)
    {
        using var store = StoreClient.Connect("127.0.0.1", _port, new MembershipProof(_secret), DateTime.UtcNow + RendezvousTimeout, rank: 99);
        var published = store.Get(RendezvousJoin.KeyPrefix() + "rank/" + rank, RendezvousTimeout)
            ?? throw new AssertFailedException($"rank {rank} never published its address. Log:\n{string.Join("\n", _log)}");
        return JsonSerializer.Deserialize<PeerAddress>(published)!;
    }

    private static void Release(params Task<RendezvousResult>[] ranks)
    {
        Task.WaitAll(ranks.Select(t => t.ContinueWith(_ => { })).ToArray(), RendezvousTimeout + TimeSpan.FromSeconds(10));
        foreach (var rank in ranks.Where(t => t.IsCompletedSuccessfully))
            foreach (var link in rank.Result.Links) link?.Dispose();
    }
}
