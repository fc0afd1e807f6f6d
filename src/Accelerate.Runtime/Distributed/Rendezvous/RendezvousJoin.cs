using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>
/// Brings the ranks of one job together: rank 0 serves the store, every rank publishes its
/// address, waits for all the others (naming the ones that never come), and connects to every
/// peer over an authenticated socket.
/// </summary>
internal static class RendezvousJoin
{
    /// <summary>Meets the other ranks of <paramref name="environment"/> within <paramref name="timeout"/>.</summary>
    public static RendezvousResult Join(DistributedEnvironment environment, MembershipProof proof, TimeSpan timeout, Action<string> log)
    {
        var deadline = DateTime.UtcNow + timeout;
        var rank = environment.Rank;
        var world = environment.WorldSize;
        if (rank < 0 || rank >= world)
            throw new AccelerateException("ACC2002", $"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world}). Start ranks with `accelerate launch`, or set RANK below WORLD_SIZE.");

        var server = rank == 0 ? StoreServer.Start(environment.MasterPort, proof, message => log("rendezvous store: " + message)) : null;
        try
        {
            using var store = StoreClient.Connect(environment.MasterAddress, environment.MasterPort, proof, deadline, rank);
            using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
            listener.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
            listener.Listen(world);

            var prefix = KeyPrefix();
            var me = new PeerAddress(rank, world, Environment.MachineName, PeerAddress.LocalHostId(), store.LocalAddress.ToString(),
                ((IPEndPoint)listener.LocalEndPoint!).Port, Environment.ProcessId);
            var published = JsonSerializer.SerializeToUtf8Bytes(me);
            var holder = store.CompareSet(prefix + "rank/" + rank, [], published);
            if (!holder.AsSpan().SequenceEqual(published))
            {
                var other = JsonSerializer.Deserialize<PeerAddress>(holder);
                throw new AccelerateException("ACC2106", $"Two processes claim RANK={rank}: this one ({me.Host}, pid {me.ProcessId}) and {other?.Host}, pid {other?.ProcessId}. " +
                    "Give every process its own RANK (accelerate launch does), and set --machine_rank differently on each machine.");
            }

            var keys = Enumerable.Range(0, world).Select(r => prefix + "rank/" + r).ToArray();
            // Rank 0 serves the store: it waits a little longer so that the others can still read who is missing.
            if (!store.Wait(keys, Remaining(deadline) + (rank == 0 ? TimeSpan.FromSeconds(2) : TimeSpan.Zero)))
                throw MissingRanks(environment, store, keys, timeout);

            var peers = keys.Select(key => JsonSerializer.Deserialize<PeerAddress>(store.Get(key, TimeSpan.Zero)!)!).ToArray();
            foreach (var peer in peers.Where(p => p.WorldSize != world))
                throw new AccelerateException("ACC2107", $"{peer.Describe()} was started with WORLD_SIZE={peer.WorldSize}, this rank with WORLD_SIZE={world}. " +
                    "Start every rank with the same world size (same --num_processes and --num_machines on every machine).");

            var links = ConnectMesh(rank, peers, listener, proof, deadline);
            return new RendezvousResult(peers, links);
        }
        finally
        {
            // Every peer has read the store once it connected to rank 0, so rank 0 can stop serving.
            server?.Dispose();
        }
    }

    private static string KeyPrefix()
    {
        var run = Environment.GetEnvironmentVariable("TORCHELASTIC_RUN_ID") ?? "run";
        var attempt = Environment.GetEnvironmentVariable("TORCHELASTIC_RESTART_COUNT") ?? "0";
        return $"{run}/{attempt}/";
    }

    private static TimeSpan Remaining(DateTime deadline) => deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    private static AccelerateException MissingRanks(DistributedEnvironment environment, StoreClient store, string[] keys, TimeSpan timeout)
    {
        bool[] present;
        var joined = new List<PeerAddress>();
        try
        {
            present = store.Check(keys);
            for (var r = 0; r < keys.Length; r++)
                if (present[r] && store.Get(keys[r], TimeSpan.Zero) is { } bytes)
                    joined.Add(JsonSerializer.Deserialize<PeerAddress>(bytes)!);
        }
        catch (AccelerateException)
        {
            // Rank 0 gave up at the same moment; say what is known.
            present = keys.Select(_ => false).ToArray();
            present[environment.Rank] = true;
        }
        var missing = Enumerable.Range(0, keys.Length).Where(r => !present[r]).ToList();
        var perMachine = environment.LocalWorldSize > 0 ? environment.LocalWorldSize : 1;
        string Where(int r)
        {
            var machine = r / perMachine;
            var host = joined.FirstOrDefault(p => p.Rank / perMachine == machine)?.Host;
            return host is null ? $"rank {r} (machine {machine})" : $"rank {r} (machine {machine}, {host})";
        }

        var joinedText = joined.Count == 0 ? "none" : string.Join(", ", joined.Select(p => $"{p.Rank} ({p.Host})"));
        return new AccelerateException("ACC2103",
            $"Rendezvous timed out after {timeout.TotalSeconds:0.#} s at {environment.MasterAddress}:{environment.MasterPort}: " +
            $"{missing.Count} of {keys.Length} ranks never arrived: {string.Join(", ", missing.Select(Where))}. Joined: {joinedText}. " +
            "Check that every machine ran the launch command with the right --machine_rank and --num_machines, that the missing ranks did not fail at start-up (see their output), " +
            "or raise the timeout with ACCELERATE_RDZV_TIMEOUT.");
    }

    private static Socket?[] ConnectMesh(int rank, PeerAddress[] peers, Socket listener, MembershipProof proof, DateTime deadline)
    {
        var links = new Socket?[peers.Length];
        // Higher ranks connect to lower ones: accept from every higher rank while connecting to every lower one.
        var accepting = Task.Run(() => AcceptHigherRanks(rank, peers, listener, proof, links, deadline));
        try
        {
            for (var peer = 0; peer < rank; peer++)
                links[peer] = ConnectTo(rank, peers[peer], proof, deadline);
            if (!accepting.Wait(Remaining(deadline) + TimeSpan.FromSeconds(1)))
                throw new TimeoutException();
            accepting.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not AccelerateException)
        {
            listener.Dispose();
            var absent = Enumerable.Range(rank + 1, peers.Length - rank - 1).Where(r => Volatile.Read(ref links[r]) is null).Select(r => peers[r].Describe());
            foreach (var link in links) link?.Dispose();
            throw new AccelerateException("ACC2103", $"Rank {rank} met every rank at the store, but these never connected to it before the rendezvous timeout: {string.Join(", ", absent)}. " +
                "A firewall between the machines, or a peer that failed right after joining, causes this; see that rank's output.", e);
        }
        return links;
    }

    private static Socket ConnectTo(int rank, PeerAddress peer, MembershipProof proof, DateTime deadline)
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        try
        {
            var address = IPAddress.Parse(peer.Address);
            if (address.AddressFamily == AddressFamily.InterNetwork) address = address.MapToIPv6();
            if (!socket.ConnectAsync(address, peer.Port).Wait(Remaining(deadline)))
                throw new TimeoutException($"no answer within the rendezvous timeout");
            socket.ReceiveTimeout = (int)Math.Max(1, Remaining(deadline).TotalMilliseconds);
            proof.Answer(socket, "mesh");
            Span<byte> hello = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(hello, rank);
            socket.Send(hello);
            socket.ReceiveTimeout = 0;
            return socket;
        }
        catch (Exception e) when (e is SocketException or TimeoutException or AggregateException or MembershipRefusedException)
        {
            socket.Dispose();
            var reason = e is AggregateException { InnerException: { } inner } ? inner.Message : e.Message;
            throw new AccelerateException("ACC2108", $"Rank {rank} could not connect to {peer.Describe()} at {peer.Address}:{peer.Port}: {reason}. " +
                "Ranks connect to each other directly; allow TCP between the machines on all ports (or run them in one network).", e);
        }
    }

    private static void AcceptHigherRanks(int rank, PeerAddress[] peers, Socket listener, MembershipProof proof, Socket?[] links, DateTime deadline)
    {
        var expected = peers.Length - rank - 1;
        while (expected > 0)
        {
            var accept = listener.AcceptAsync();
            if (!accept.Wait(Remaining(deadline))) throw new TimeoutException();
            var socket = accept.Result;
            try
            {
                socket.ReceiveTimeout = (int)Math.Max(1, Remaining(deadline).TotalMilliseconds);
                proof.Challenge(socket, "mesh");
                var hello = new byte[4];
                var read = 0;
                while (read < 4)
                {
                    var n = socket.Receive(hello.AsSpan(read));
                    if (n == 0) throw new InvalidDataException("closed before naming its rank");
                    read += n;
                }
                var peer = BinaryPrimitives.ReadInt32LittleEndian(hello);
                if (peer <= rank || peer >= peers.Length || links[peer] is not null)
                    throw new InvalidDataException($"named rank {peer}, which should not connect here");
                socket.ReceiveTimeout = 0;
                Volatile.Write(ref links[peer], socket);
                expected--;
            }
            catch (Exception e) when (e is MembershipRefusedException or InvalidDataException or SocketException)
            {
                // Not one of ours (or broken): drop it and keep waiting for the real peers.
                Console.Error.WriteLine($"accelerate: rank {rank} refused a peer connection from {socket.RemoteEndPoint}: {e.Message}");
                socket.Dispose();
            }
        }
    }
}
