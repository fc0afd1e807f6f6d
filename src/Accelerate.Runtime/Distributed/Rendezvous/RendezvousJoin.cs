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
    /// <param name="environment">Where this rank stands in the job.</param>
    /// <param name="proof">The launch's membership proof.</param>
    /// <param name="timeout">The rendezvous timeout.</param>
    /// <param name="log">Where the store logs refused connections.</param>
    /// <param name="handshakeTimeout">How long a connecting peer has for its membership challenge (<see cref="HandshakeDeadline.Default"/>).</param>
    /// <param name="keepStore">Rank 0 also serves a store that outlives the rendezvous (debug mode publishes progress there), on a port of
    /// its own that every rank learns at the rendezvous, and hands it to the caller. Not the rendezvous port: a rank that closes its group and
    /// joins a new one must never meet the previous group's store there.</param>
    public static RendezvousResult Join(DistributedEnvironment environment, MembershipProof proof, TimeSpan timeout, Action<string> log, TimeSpan? handshakeTimeout = null, bool keepStore = false)
    {
        var deadline = DateTime.UtcNow + timeout;
        var rank = environment.Rank;
        var world = environment.WorldSize;
        if (rank < 0 || rank >= world)
            throw new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world}). Start ranks with `accelerate launch`, or set RANK below WORLD_SIZE.");

        // A store on loopback cannot be reached from another machine anyway: then nothing listens beyond this machine.
        var bindAddress = IsLoopback(environment.MasterAddress) ? IPAddress.Loopback : null;
        var server = rank == 0
            ? StoreServer.Start(environment.MasterPort, proof, message => log("rendezvous store: " + message), bindAddress, handshakeTimeout)
            : null;
        StoreServer? kept = null;
        try
        {
            if (rank == 0 && keepStore) kept = StoreServer.Start(0, proof, message => log("progress store: " + message), bindAddress, handshakeTimeout);
            using var store = StoreClient.Connect(environment.MasterAddress, environment.MasterPort, proof, deadline, rank);
            // Peers reach this rank at the address it publishes (the interface that reaches rank 0): listen there only.
            using var listener = new Socket(store.LocalAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(store.LocalAddress, 0));
            listener.Listen(Math.Max(world, 64));
            // Accepting starts now, so a stranger at this port meets its handshake deadline even before every rank arrived.
            var links = new Socket?[world];
            var accepting = AcceptHigherRanks(rank, world, listener, proof, links, deadline, handshakeTimeout ?? HandshakeDeadline.Default, log);
            var connected = false;
            try
            {
                var prefix = KeyPrefix();
                // Published before rank 0 claims its rank, so that whoever sees every rank arrived also finds the port.
                if (kept is not null) store.Set(prefix + "progress-port", System.Text.Encoding.ASCII.GetBytes(kept.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                var me = new PeerAddress(rank, world, Environment.MachineName, PeerAddress.LocalHostId(), store.LocalAddress.ToString(),
                    ((IPEndPoint)listener.LocalEndPoint!).Port, Environment.ProcessId);
                var published = JsonSerializer.SerializeToUtf8Bytes(me);
                var holder = store.CompareSet(prefix + "rank/" + rank, [], published);
                if (!holder.AsSpan().SequenceEqual(published))
                {
                    var other = JsonSerializer.Deserialize<PeerAddress>(holder);
                    throw new AccelerateException(RuntimeErrorCode.RankClaimedTwice, $"Two processes claim RANK={rank}: this one ({me.Host}, pid {me.ProcessId}) and {other?.Host}, pid {other?.ProcessId}. " +
                        "Give every process its own RANK (accelerate launch does), and set --machine_rank differently on each machine.");
                }

                var keys = Enumerable.Range(0, world).Select(r => prefix + "rank/" + r).ToArray();
                // Rank 0 serves the store: it waits a little longer so that the others can still read who is missing.
                if (!store.Wait(keys, Remaining(deadline) + (rank == 0 ? TimeSpan.FromSeconds(2) : TimeSpan.Zero)))
                    throw MissingRanks(environment, store, keys, timeout);

                var peers = keys.Select(key => JsonSerializer.Deserialize<PeerAddress>(store.Get(key, TimeSpan.Zero)!)!).ToArray();
                foreach (var peer in peers.Where(p => p.WorldSize != world))
                    throw new AccelerateException(RuntimeErrorCode.WorldSizeMismatch, $"{peer.Describe()} was started with WORLD_SIZE={peer.WorldSize}, this rank with WORLD_SIZE={world}. " +
                        "Start every rank with the same world size (same --num_processes and --num_machines on every machine).");

                // Read before the mesh connects: rank 0 stops serving the rendezvous store once every rank is connected.
                int? progressPort = keepStore
                    ? int.Parse(System.Text.Encoding.ASCII.GetString(store.Get(prefix + "progress-port", Remaining(deadline))
                        ?? throw MissingRanks(environment, store, keys, timeout)), System.Globalization.CultureInfo.InvariantCulture)
                    : null;
                ConnectMesh(rank, peers, listener, proof, links, accepting, deadline);
                connected = true;
                var result = new RendezvousResult(peers, links) { Store = kept, ProgressPort = progressPort };
                kept = null;
                return result;
            }
            finally
            {
                if (!connected)
                {
                    listener.Dispose();
                    foreach (var link in links) link?.Dispose();
                }
            }
        }
        finally
        {
            // Every peer has read the store once it connected to rank 0, so rank 0 can stop serving.
            server?.Dispose();
            kept?.Dispose();
        }
    }

    internal static string KeyPrefix()
    {
        var run = Environment.GetEnvironmentVariable("TORCHELASTIC_RUN_ID") ?? "run";
        var attempt = Environment.GetEnvironmentVariable("TORCHELASTIC_RESTART_COUNT") ?? "0";
        return $"{run}/{attempt}/";
    }

    /// <summary>True when <paramref name="host"/> names only this machine's loopback addresses.</summary>
    private static bool IsLoopback(string host)
    {
        try
        {
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : Dns.GetHostAddresses(host);
            return addresses.Length > 0 && addresses.All(IPAddress.IsLoopback);
        }
        catch (SocketException)
        {
            return false; // Unresolvable here: the client reports it.
        }
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
        return new AccelerateException(RuntimeErrorCode.RanksMissing,
            $"Rendezvous timed out after {timeout.TotalSeconds:0.#} s at {environment.MasterAddress}:{environment.MasterPort}: " +
            $"{missing.Count} of {keys.Length} ranks never arrived: {string.Join(", ", missing.Select(Where))}. Joined: {joinedText}. " +
            "Check that every machine ran the launch command with the right --machine_rank and --num_machines, that the missing ranks did not fail at start-up (see their output), " +
            "or raise the timeout with ACCELERATE_RDZV_TIMEOUT.");
    }

    /// <summary>Higher ranks connect to lower ones: connects to every lower rank while <paramref name="accepting"/> takes every higher one.</summary>
    private static void ConnectMesh(int rank, PeerAddress[] peers, Socket listener, MembershipProof proof, Socket?[] links, Task accepting, DateTime deadline)
    {
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
            throw new AccelerateException(RuntimeErrorCode.RanksMissing, $"Rank {rank} met every rank at the store, but these never connected to it before the rendezvous timeout: {string.Join(", ", absent)}. " +
                "A firewall between the machines, or a peer that failed right after joining, causes this; see that rank's output.", e);
        }
    }

    /// <summary>
    /// Connects by the deadline. On Linux with a blocking connect, which gives up after the send timeout, not an
    /// asynchronous one: that would leave the socket non-blocking underneath and tie it to .NET's socket event thread
    /// for good, and every packet of every later collective on it would then wake a thread-pool thread, which spins
    /// on the core this rank's collectives run on.
    /// </summary>
    private static void ConnectWithin(Socket socket, IPEndPoint endpoint, DateTime deadline)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (!socket.ConnectAsync(endpoint).Wait(Remaining(deadline))) throw new TimeoutException("no answer within the rendezvous timeout");
            return;
        }
        socket.SendTimeout = (int)Math.Max(1, Remaining(deadline).TotalMilliseconds);
        try
        {
            socket.Connect(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.TimedOut)
        {
            throw new TimeoutException("no answer within the rendezvous timeout");
        }
        socket.SendTimeout = 0;
    }

    private static Socket ConnectTo(int rank, PeerAddress peer, MembershipProof proof, DateTime deadline)
    {
        while (true)
        {
            var address = IPAddress.Parse(peer.Address);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                ConnectWithin(socket, new IPEndPoint(address, peer.Port), deadline);
                socket.ReceiveTimeout = (int)Math.Max(1, Remaining(deadline).TotalMilliseconds);
                proof.Answer(socket, "mesh");
                Span<byte> hello = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(hello, rank);
                socket.Send(hello);
                socket.ReceiveTimeout = 0;
                TcpKeepAlive.Enable(socket);
                return socket;
            }
            catch (IOException) when (Remaining(deadline) > TimeSpan.FromMilliseconds(100))
            {
                // Closed before its challenge: the peer's listener is busy with strangers. Try again.
                socket.Dispose();
                Thread.Sleep(50); // back-off between attempts, not synchronisation
            }
            catch (Exception e) when (e is SocketException or TimeoutException or AggregateException or MembershipRefusedException or IOException)
            {
                socket.Dispose();
                var reason = e is AggregateException { InnerException: { } inner } ? inner.Message : e.Message;
                throw new AccelerateException(RuntimeErrorCode.PeerUnreachable, $"Rank {rank} could not connect to {peer.Describe()} at {peer.Address}:{peer.Port}: {reason}. " +
                    "Ranks connect to each other directly; allow TCP between the machines on all ports (or run them in one network).", e);
            }
        }
    }

    /// <summary>
    /// Accepts connections until every higher rank has connected. Each handshake runs on its own with its own
    /// deadline, so a stranger that connects and says nothing (or drips bytes) holds up nobody; at most
    /// <see cref="StoreServer.DefaultMaxPendingHandshakes"/> run at once.
    /// </summary>
    private static Task AcceptHigherRanks(int rank, int world, Socket listener, MembershipProof proof, Socket?[] links, DateTime deadline,
        TimeSpan handshakeTimeout, Action<string> log)
    {
        var expected = world - rank - 1;
        var complete = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (expected == 0)
        {
            complete.SetResult();
            return complete.Task;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                using var cancel = new CancellationTokenSource(Remaining(deadline));
                await BoundedAccept.RunAsync(listener, StoreServer.DefaultMaxPendingHandshakes, socket =>
                {
                    if (Handshake(rank, world, socket, proof, links, handshakeTimeout, log) && Interlocked.Decrement(ref expected) == 0)
                        complete.TrySetResult();
                }, () => complete.Task.IsCompleted, cancel.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Deadline passed or the listener closed: the caller names the ranks that never came.
                complete.TrySetException(e);
            }
        });
        return complete.Task;
    }

    /// <summary>Challenges one connection; true when it is a higher rank of this job, which then has its link.</summary>
    private static bool Handshake(int rank, int world, Socket socket, MembershipProof proof, Socket?[] links, TimeSpan handshakeTimeout, Action<string> log)
    {
        var remote = socket.RemoteEndPoint?.ToString() ?? "an unknown peer";
        try
        {
            var deadline = new HandshakeDeadline(socket, handshakeTimeout);
            int peer;
            try
            {
                proof.Challenge(socket, "mesh");
                var hello = new byte[4];
                var read = 0;
                while (read < 4)
                {
                    var n = socket.Receive(hello.AsSpan(read));
                    if (n == 0) throw new InvalidDataException("closed before naming its rank");
                    read += n;
                }
                peer = BinaryPrimitives.ReadInt32LittleEndian(hello);
            }
            catch (Exception) when (deadline.Expired)
            {
                throw new InvalidDataException($"did not finish the membership challenge within {handshakeTimeout.TotalSeconds:0.#} s");
            }
            finally
            {
                deadline.Dispose();
            }
            // Checked once the deadline is disarmed: a connection it shut down is never kept.
            if (deadline.Expired)
                throw new InvalidDataException($"did not finish the membership challenge within {handshakeTimeout.TotalSeconds:0.#} s");
            if (peer <= rank || peer >= world || Interlocked.CompareExchange(ref links[peer], socket, null) is not null)
                throw new InvalidDataException($"named rank {peer}, which should not connect here");
            TcpKeepAlive.Enable(socket);
            return true;
        }
        catch (Exception e) when (e is MembershipRefusedException or InvalidDataException or SocketException or IOException or ObjectDisposedException)
        {
            // Not one of ours (or broken): drop it; the real peers are accepted alongside.
            log($"rank {rank} refused a peer connection from {remote}: {e.Message}");
            socket.Dispose();
            return false;
        }
    }
}
