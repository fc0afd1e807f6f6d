using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>
/// The challenge both ends of every connection answer to show they were started for the same
/// launch: each side sends a fresh nonce and proves, with an HMAC over both nonces keyed by the
/// launch secret, that it knows the secret. The secret itself never crosses the wire.
/// </summary>
internal sealed class MembershipProof
{
    private const uint Magic = 0x4143_4331; // "ACC1"
    private const int NonceLength = 32;
    private const int MacLength = 32;
    private readonly byte[] _key;

    /// <summary>Creates a proof keyed by <paramref name="secret"/> (64 hex characters, or any other text).</summary>
    public MembershipProof(string secret)
    {
        _key = IsHex(secret) ? Convert.FromHexString(secret) : Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>True when the secret came from the launcher rather than being derived from the job's identity.</summary>
    public bool IsAuthenticated { get; init; } = true;

    /// <summary>The serving side: challenges a peer that just connected; throws <see cref="MembershipRefusedException"/> if it fails.</summary>
    public void Challenge(Socket socket, string purpose)
    {
        var serverNonce = RandomNumberGenerator.GetBytes(NonceLength);
        var hello = new byte[4 + NonceLength];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, Magic);
        serverNonce.CopyTo(hello, 4);
        socket.Send(hello);

        var answer = new byte[4 + NonceLength + MacLength];
        if (!TryReceive(socket, answer))
            throw new MembershipRefusedException("the peer closed the connection before answering the challenge");
        if (BinaryPrimitives.ReadUInt32LittleEndian(answer) != Magic)
            throw new MembershipRefusedException("the peer does not speak the Accelerate rendezvous protocol");
        var clientNonce = answer.AsSpan(4, NonceLength).ToArray();
        var expected = Mac("client", purpose, serverNonce, clientNonce);
        if (!CryptographicOperations.FixedTimeEquals(expected, answer.AsSpan(4 + NonceLength)))
            throw new MembershipRefusedException("the peer does not know this launch's ACCELERATE_LAUNCH_SECRET");
        socket.Send(Mac("server", purpose, serverNonce, clientNonce));
    }

    /// <summary>The connecting side: answers the server's challenge and checks that the server knows the secret too.</summary>
    public void Answer(Socket socket, string purpose)
    {
        var hello = new byte[4 + NonceLength];
        // Closed before its challenge: the server is busy (too many connections proving membership) or
        // going away, not refusing this process; the caller may try again.
        if (!TryReceive(socket, hello))
            throw new IOException("the server closed the connection before sending its challenge");
        if (BinaryPrimitives.ReadUInt32LittleEndian(hello) != Magic)
            throw new MembershipRefusedException("the server does not speak the Accelerate rendezvous protocol");
        var serverNonce = hello.AsSpan(4).ToArray();
        var clientNonce = RandomNumberGenerator.GetBytes(NonceLength);
        var answer = new byte[4 + NonceLength + MacLength];
        BinaryPrimitives.WriteUInt32LittleEndian(answer, Magic);
        clientNonce.CopyTo(answer, 4);
        Mac("client", purpose, serverNonce, clientNonce).CopyTo(answer, 4 + NonceLength);
        socket.Send(answer);

        var proof = new byte[MacLength];
        if (!TryReceive(socket, proof))
            throw new MembershipRefusedException("the server refused this process: its ACCELERATE_LAUNCH_SECRET differs from rank 0's");
        if (!CryptographicOperations.FixedTimeEquals(proof, Mac("server", purpose, serverNonce, clientNonce)))
            throw new MembershipRefusedException("the server does not know this launch's ACCELERATE_LAUNCH_SECRET");
    }

    private byte[] Mac(string role, string purpose, byte[] serverNonce, byte[] clientNonce)
    {
        var label = Encoding.UTF8.GetBytes($"accelerate/{purpose}/{role}");
        var message = new byte[label.Length + serverNonce.Length + clientNonce.Length];
        label.CopyTo(message, 0);
        serverNonce.CopyTo(message, label.Length);
        clientNonce.CopyTo(message, label.Length + serverNonce.Length);
        return HMACSHA256.HashData(_key, message);
    }

    private static bool TryReceive(Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var read = socket.Receive(buffer);
            if (read == 0) return false;
            buffer = buffer[read..];
        }
        return true;
    }

    private static bool IsHex(string text) => text.Length > 0 && text.Length % 2 == 0 && text.All(Uri.IsHexDigit);
}

/// <summary>A connection failed the membership challenge.</summary>
internal sealed class MembershipRefusedException(string reason) : Exception(reason);
