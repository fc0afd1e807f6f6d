using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;
using Accelerate.Distributed.Tcp;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// What a TCP link puts on the wire: every data message fills a multiple of 64 bytes (a 64-byte header, the payload,
/// zeros up to the next multiple), so every payload starts 64-byte aligned in the kernel's socket buffers, whatever
/// came before it; and links read each other's messages back intact, whatever their lengths.
/// </summary>
[TestClass]
public sealed class PeerLinkFramingTests
{
    private static readonly CollectiveSignature Signature = new(0x5EED);

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(24)]
    [DataRow(63)]
    [DataRow(64)]
    [DataRow(65_537)] // sent from the caller's memory, not copied behind the header
    [DataRow(1_048_579)]
    public void Every_message_fills_whole_64_byte_blocks_with_the_payload_starting_on_one(int length)
    {
        var (mine, raw) = ConnectedPair();
        using var theirs = raw;
        var payload = Pattern(length, seed: 7);

        // Two messages back to back: the second starts where the first ended, so the first must end on a block boundary.
        var reader = Task.Run(() => ReadToEnd(theirs));
        using (var link = Link(mine))
        {
            link.Send(Address(payload), length);
            link.Send(Address(payload), length);
        }
        Assert.IsTrue(reader.Wait(TimeSpan.FromSeconds(30)), "the link did not close");
        var wire = reader.Result;

        Assert.AreEqual(2 * Framed(length), wire.Length, "bytes on the wire for two messages");
        for (var message = 0; message < 2; message++)
        {
            var frame = wire.AsSpan(message * Framed(length), Framed(length));
            Assert.AreEqual(0x41434344u, BinaryPrimitives.ReadUInt32LittleEndian(frame), $"message {message} starts with a data header");
            Assert.AreEqual(length, BinaryPrimitives.ReadInt64LittleEndian(frame[8..]), $"message {message} carries its payload length");
            CollectionAssert.AreEqual(payload, frame.Slice(64, length).ToArray(), $"message {message}'s payload starts at byte 64");
            Assert.IsLessThan(0, frame[(64 + length)..].IndexOfAnyExcept((byte)0), $"message {message} is padded with zeros");
        }
    }

    [TestMethod]
    public void Links_read_back_messages_of_every_length_in_both_directions()
    {
        var (a, b) = ConnectedPair();
        using var left = Link(a);
        using var right = Link(b);
        int[] lengths = [0, 1, 3, 63, 64, 65, 4_096, 65_535, 65_536, 65_537, 200_003, 1_048_576, 1_048_579];

        foreach (var length in lengths)
        {
            var there = Pattern(length, seed: length);
            var back = Pattern(length, seed: length + 1);
            var receivedThere = Pinned(length);
            var receivedBack = Pinned(length);
            var peer = Task.Run(() =>
            {
                right.Receive(Address(receivedThere), length);
                right.Send(Address(back), length);
            });
            left.Send(Address(there), length);
            left.Receive(Address(receivedBack), length);
            Assert.IsTrue(peer.Wait(TimeSpan.FromSeconds(30)), $"{length} bytes: the peer did not finish");
            CollectionAssert.AreEqual(there, receivedThere, $"{length} bytes one way");
            CollectionAssert.AreEqual(back, receivedBack, $"{length} bytes the other way");
        }
    }

    private static int Framed(int length) => 64 + (length + 63) / 64 * 64;

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = Pinned(length);
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Links take addresses, as of tensors: the arrays they get are pinned.</summary>
    private static byte[] Pinned(int length) => GC.AllocateArray<byte>(length, pinned: true);

    private static nint Address(byte[] pinned) => pinned.Length == 0 ? 0 : Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);

    private static PeerLink Link(Socket socket) =>
        new(socket, new PeerAddress(1, 2, "localhost", "test-host", "127.0.0.1", 0, 0), TimeSpan.FromSeconds(30), rank: 0, () => "the test", () => Signature);

    private static byte[] ReadToEnd(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    private static (Socket, Socket) ConnectedPair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        return (client, listener.Accept());
    }
}
