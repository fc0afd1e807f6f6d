using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// The machine rendezvous facing hostile peers: real launchers on loopback, and test sockets that replay, stall,
/// flood or impersonate machine 0.
/// </summary>
[TestClass]
public sealed class RendezvousSecurityTests
{
    private static readonly string Secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
    private static readonly Dictionary<string, string?> WithSecret = new() { ["ACCELERATE_LAUNCH_SECRET"] = Secret };

    private static string[] Options(int machine, int port, int timeout) =>
        ["--num_machines", "2", "--machine_rank", machine.ToString(), "--num_processes", "2", "--main_process_ip", "127.0.0.1",
         "--main_process_port", port.ToString(), "--rdzv_timeout", timeout.ToString(), "--cpu", LauncherRun.RankProbeDll, "env"];

    [TestMethod]
    public void A_check_in_recorded_on_the_wire_is_refused_when_replayed_to_machine_0()
    {
        // What an eavesdropper sees: machine 1 checking in with a listener that plays machine 0.
        string recorded;
        using (var impostor = new ImpostorMachine0())
        using (LauncherRun.Start(Options(1, impostor.Port, 30), WithSecret))
        {
            using var connection = impostor.Accept();
            connection.WriteLine($"ACCELERATE-RDZV/2 {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}");
            recorded = connection.ReadLine() ?? throw new AssertFailedException("machine 1 sent no check-in");
        }

        var port = FreePort();
        using var first = LauncherRun.Start(Options(0, port, 60), WithSecret);
        first.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using (var replay = Line.Connect(port))
        {
            replay.WriteLine(recorded);
            var answers = replay.ReadAll();
            Assert.IsFalse(answers.Any(l => l.StartsWith("GO ", StringComparison.Ordinal)), "machine 0 admitted a replayed check-in: " + string.Join(" | ", answers));
            Assert.IsTrue(answers.Any(l => l.StartsWith("ERROR ", StringComparison.Ordinal)), string.Join(" | ", answers));
        }

        // The job still meets with the real machine 1.
        using var second = LauncherRun.Start(Options(1, port, 60), WithSecret);
        Assert.AreEqual(0, first.WaitForExit(), first.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
    }

    [TestMethod]
    public void A_machine_0_that_cannot_prove_the_secret_is_refused_by_the_joining_machine()
    {
        using var impostor = new ImpostorMachine0();
        using var victim = LauncherRun.Start(Options(1, impostor.Port, 30), WithSecret);
        using (var connection = impostor.Accept())
        {
            connection.WriteLine($"ACCELERATE-RDZV/2 {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}");
            Assert.IsNotNull(connection.ReadLine(), "machine 1 checked in");
            // A GO with a proof made without the secret.
            connection.WriteLine($"GO impostor-run - {new string('0', 64)}");
            Assert.AreEqual(1, victim.WaitForExit(), victim.AllOutput);
        }

        StringAssert.Contains(victim.WaitForLine(l => l.Contains("ACC3040")), "did not prove it knows ACCELERATE_LAUNCH_SECRET");
        Assert.IsEmpty(RankReport.From(victim.Stdout), "no rank started for an impostor");
    }

    [TestMethod]
    public void Idle_garbage_and_oversized_check_ins_do_not_hold_up_the_machines_of_the_job()
    {
        var port = FreePort();
        using var first = LauncherRun.Start(Options(0, port, 60), WithSecret);
        first.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        var strangers = Enumerable.Range(0, 8).Select(_ => Line.Connect(port)).ToList();
        try
        {
            using (var garbage = Line.Connect(port))
            {
                garbage.WriteLine("FAILED x y");
                Assert.IsTrue(garbage.ReadAll().Any(l => l.StartsWith("ERROR ", StringComparison.Ordinal)), "a malformed check-in is answered and closed");
            }
            using (var oversized = Line.Connect(port))
            {
                oversized.WriteUnterminated(new string('A', 1 << 20));
                oversized.ReadAll(); // returns once machine 0 closes it
            }

            // Eight connections that never say a word: machine 1 still gets in at once.
            using var second = LauncherRun.Start(Options(1, port, 60), WithSecret);
            Assert.AreEqual(0, first.WaitForExit(), first.AllOutput);
            Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
            CollectionAssert.AreEqual(new[] { 0, 1 }, RankReport.From(first.Stdout.Concat(second.Stdout)).Select(r => r.Rank).ToArray());
        }
        finally
        {
            foreach (var stranger in strangers) stranger.Dispose();
        }
    }

    [TestMethod]
    [DataRow("STOP x y")]
    [DataRow("RESTART x")]
    [DataRow("STOP")]
    public void A_malformed_control_line_from_machine_0_stops_the_ranks_with_a_named_error(string line) =>
        AssertWhatMachine0SendsStopsTheRanks(connection => connection.WriteLine(line), "machine 0");

    [TestMethod]
    public void An_endless_control_line_from_machine_0_stops_the_ranks_with_a_named_error() =>
        AssertWhatMachine0SendsStopsTheRanks(connection =>
        {
            // 8 MiB without a line end: the launcher must not buffer it all.
            var chunk = new string('A', 1 << 20);
            for (var i = 0; i < 8; i++) connection.WriteUnterminated(chunk);
        }, "longer than");

    /// <summary>
    /// A launcher admitted as machine 1 by a machine 0 that knows the secret (a different version, or a broken one)
    /// is sent <paramref name="send"/>: it must exit with ACC3041 saying <paramref name="expected"/>, its ranks stopped.
    /// </summary>
    private static void AssertWhatMachine0SendsStopsTheRanks(Action<Line> send, string expected)
    {
        using var impostor = new ImpostorMachine0();
        using var victim = LauncherRun.Start([.. Options(1, impostor.Port, 30)[..^1], "wait"], WithSecret);
        using var connection = impostor.Accept();
        AdmitAsMachine0(connection);
        var pids = Processes.ReadyPids(victim.WaitForLines(l => l.Contains("ready rank="), 1));
        try
        {
            send(connection);

            Assert.AreEqual(1, victim.WaitForExit(), victim.AllOutput);
            StringAssert.Contains(victim.WaitForLine(l => l.Contains("ACC3041")), expected);
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 10), "the ranks are stopped");
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }

    /// <summary>Greets machine 1 with a fresh nonce and answers its check-in with a valid GO, as a real machine 0 would.</summary>
    private static void AdmitAsMachine0(Line connection)
    {
        var hostNonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        connection.WriteLine($"ACCELERATE-RDZV/2 {hostNonce}");
        var checkIn = (connection.ReadLine() ?? throw new AssertFailedException("machine 1 sent no check-in")).Split(' ');
        connection.WriteLine($"GO odd-run - {Mac($"go {hostNonce} {checkIn[4]} odd-run")}");
    }

    /// <summary>The rendezvous HMAC, as the protocol defines it (docs/security.md), keyed by the test's secret.</summary>
    private static string Mac(string message) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Convert.FromHexString(Secret), Encoding.ASCII.GetBytes($"ACCELERATE-RDZV/2 {message}")));

    internal static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>A listener on loopback where a launcher of machine 1 expects machine 0.</summary>
    internal sealed class ImpostorMachine0 : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public ImpostorMachine0() => _listener.Start();

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Line Accept()
        {
            var accept = _listener.AcceptTcpClientAsync();
            if (!accept.Wait(TimeSpan.FromSeconds(60))) throw new AssertFailedException("machine 1 never connected");
            return new Line(accept.Result);
        }

        public void Dispose() => _listener.Stop();
    }

    /// <summary>A line-based connection with bounded reads.</summary>
    internal sealed class Line(TcpClient client) : IDisposable
    {
        private readonly StreamReader _reader = new(client.GetStream(), Encoding.ASCII);

        public static Line Connect(int port)
        {
            var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return new Line(client);
        }

        public void WriteLine(string line) => WriteUnterminated(line + "\n");

        public void WriteUnterminated(string text)
        {
            try { client.GetStream().Write(Encoding.ASCII.GetBytes(text)); }
            catch (Exception e) when (e is IOException or InvalidOperationException) { } // closed by the other end meanwhile
        }

        public string? ReadLine()
        {
            client.ReceiveTimeout = 30_000;
            try { return _reader.ReadLine(); }
            catch (IOException) { return null; }
        }

        /// <summary>Every line until the other end closes (or 30 s pass without a byte).</summary>
        public List<string> ReadAll()
        {
            var lines = new List<string>();
            while (ReadLine() is { } line) lines.Add(line);
            return lines;
        }

        public void Dispose() => client.Dispose();
    }
}
