using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class RendezvousStoreTests
{
    private static readonly string Secret = RankProcesses.NewSecret();
    private readonly ConcurrentQueue<string> _log = new();

    private StoreServer Serve() => StoreServer.Start(0, new MembershipProof(Secret), _log.Enqueue);

    private static StoreClient Connect(StoreServer server, string secret) =>
        StoreClient.Connect("127.0.0.1", server.Port, new MembershipProof(secret), DateTime.UtcNow.AddSeconds(10), rank: 1);

    [TestMethod]
    public void The_store_sets_gets_adds_compares_and_deletes()
    {
        using var server = Serve();
        using var client = Connect(server, Secret);

        client.Set("a", "1"u8.ToArray());
        Assert.AreEqual("1", Encoding.UTF8.GetString(client.Get("a", TimeSpan.Zero)!));
        Assert.AreEqual(5, client.Add("counter", 5));
        Assert.AreEqual(3, client.Add("counter", -2));
        Assert.AreEqual("x", Encoding.UTF8.GetString(client.CompareSet("c", [], "x"u8.ToArray())));
        Assert.AreEqual("x", Encoding.UTF8.GetString(client.CompareSet("c", "wrong"u8.ToArray(), "y"u8.ToArray())));
        Assert.AreEqual("y", Encoding.UTF8.GetString(client.CompareSet("c", "x"u8.ToArray(), "y"u8.ToArray())));
        CollectionAssert.AreEqual(new[] { true, false }, client.Check(["a", "missing"]));
        Assert.IsTrue(client.Delete("a"));
        Assert.IsFalse(client.Delete("a"));
        Assert.IsNull(client.Get("a", TimeSpan.FromMilliseconds(50)));
    }

    [TestMethod]
    public void A_get_waits_until_another_client_sets_the_key()
    {
        using var server = Serve();
        using var waiter = Connect(server, Secret);
        using var setter = Connect(server, Secret);

        var waiting = Task.Run(() => waiter.Get("late", TimeSpan.FromSeconds(30)));

        // A Get that answered "missing" at once, instead of waiting, would have finished by now.
        Assert.IsFalse(waiting.Wait(TimeSpan.FromSeconds(1)), "the Get is still waiting for the key");
        setter.Set("late", "here"u8.ToArray());

        Assert.IsTrue(waiting.Wait(TimeSpan.FromSeconds(30)));
        Assert.AreEqual("here", Encoding.UTF8.GetString(waiting.Result!));
    }

    [TestMethod]
    public void A_client_with_the_wrong_secret_is_refused_logged_and_the_store_keeps_serving()
    {
        using var server = Serve();

        var refused = Assert.ThrowsExactly<AccelerateException>(() => Connect(server, RankProcesses.NewSecret()));

        Assert.AreEqual("ACC2104", refused.Code);
        StringAssert.Contains(refused.Message, "ACCELERATE_LAUNCH_SECRET");
        WaitForLog("does not know this launch's ACCELERATE_LAUNCH_SECRET");
        using var member = Connect(server, Secret);
        Assert.AreEqual(1, member.Add("still-serving", 1));
    }

    [TestMethod]
    public void Garbage_bytes_and_oversized_frames_close_only_that_connection()
    {
        using var server = Serve();
        using var member = Connect(server, Secret);

        using (var garbage = new TcpClient("127.0.0.1", server.Port))
        {
            garbage.GetStream().Write(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + new string('z', 200)));
            AssertClosedByTheStore(garbage, "the store closes a connection that does not answer the challenge properly");
        }
        WaitForLog("does not speak the Accelerate rendezvous protocol");

        // A member that then sends a frame announcing 1 GiB is cut off without the store allocating it.
        using (var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            raw.Connect(IPAddress.Loopback, server.Port);
            new MembershipProof(Secret).Answer(raw, "store");
            raw.Send(BitConverter.GetBytes(1u << 30));
            raw.ReceiveTimeout = 30_000;
            Assert.AreEqual(0, raw.Receive(new byte[16]));
        }
        WaitForLog("over the");

        member.Set("k", [1, 2, 3]);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, member.Get("k", TimeSpan.Zero));
    }

    [TestMethod]
    public void A_client_that_drips_one_byte_at_a_time_is_cut_off_at_the_handshake_deadline()
    {
        using var server = StoreServer.Start(0, new MembershipProof(Secret), _log.Enqueue, handshakeTimeout: TimeSpan.FromSeconds(2));
        using var dripper = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        dripper.Connect(IPAddress.Loopback, server.Port);
        var started = DateTime.UtcNow;

        dripper.ReceiveTimeout = 30_000;
        Assert.AreEqual(36, ReceiveExactly(dripper, 36), "the store sent its challenge");

        // Each byte comes well within any per-read timeout, but the whole answer (68 bytes) would take over half a minute.
        var closed = false;
        while (!closed && DateTime.UtcNow - started < TimeSpan.FromSeconds(40))
        {
            try
            {
                dripper.Send([0x41]);
                if (dripper.Poll(500_000, SelectMode.SelectRead)) closed = dripper.Receive(new byte[64]) == 0;
            }
            catch (SocketException)
            {
                closed = true;
            }
        }

        Assert.IsTrue(closed, "the store still held the dripping connection after 40 s");
        Assert.IsLessThan(TimeSpan.FromSeconds(20), DateTime.UtcNow - started, "cut off near the 2 s handshake deadline, not after the whole drip");
        WaitForLog("did not finish the membership challenge within 2 s");
        using var member = Connect(server, Secret);
        Assert.AreEqual(1, member.Add("after-drip", 1));
    }

    [TestMethod]
    public void Unauthenticated_connections_over_the_cap_are_closed_at_once_and_members_still_get_in()
    {
        using var server = StoreServer.Start(0, new MembershipProof(Secret), _log.Enqueue, handshakeTimeout: TimeSpan.FromSeconds(3), maxPendingHandshakes: 4);
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                socket.Connect(IPAddress.Loopback, server.Port);
                socket.ReceiveTimeout = 30_000;
                Assert.AreEqual(36, ReceiveExactly(socket, 36), "connections within the cap are challenged");
            }

            using var over = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            over.Connect(IPAddress.Loopback, server.Port);
            over.ReceiveTimeout = 30_000;
            Assert.AreEqual(0, ReceiveExactly(over, 36), "the fifth unauthenticated connection is closed without a challenge");
            WaitForLog("4 connections are still proving membership");

            // The idle ones are dropped at their handshake deadline; a member retries until it gets in.
            using var member = Connect(server, Secret);
            Assert.AreEqual(1, member.Add("after-flood", 1));
        }
        finally
        {
            foreach (var socket in idle) socket.Dispose();
        }
    }

    private static int ReceiveExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        try
        {
            while (read < count && socket.Receive(buffer.AsSpan(read)) is var n && n > 0) read += n;
        }
        catch (SocketException)
        {
            // Reset: counts as closed.
        }
        return read;
    }

    private static void AssertClosedByTheStore(TcpClient client, string why)
    {
        client.ReceiveTimeout = 30_000;
        var stream = client.GetStream();
        var buffer = new byte[256];
        try
        {
            while (stream.Read(buffer) > 0)
            {
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
        {
            Assert.Fail($"The connection was still open after {client.ReceiveTimeout / 1000} s: {why}.");
        }
        catch (IOException)
        {
            // Reset by the store: closed as well.
        }
    }

    private void WaitForLog(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_log.Any(line => line.Contains(text, StringComparison.Ordinal))) return;
            Thread.Sleep(10); // a bounded poll that leaves the store's threads the CPU
        }
        Assert.Fail($"The store never logged '{text}'. Log:\n{string.Join("\n", _log)}");
    }
}
