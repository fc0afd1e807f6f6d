using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Accelerate.Distributed.Rendezvous;

namespace Accelerate.Tests.Distributed;

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
