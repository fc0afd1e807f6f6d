using System.Diagnostics;

namespace Accelerate.Tests.Distributed;

/// <summary>Two "hosts": Linux network namespaces joined by a veth pair, created and removed by each test.</summary>
[TestClass]
public sealed class CrossHostTests
{
    [TestMethod]
    public void Two_ranks_on_each_of_two_hosts_reduce_hierarchically_and_match_the_reference()
    {
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"]);

        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "backend shm+tcp", job.Describe());
            StringAssert.Contains(rank.Output, "PASS", job.Describe());
        }
    }

    [TestMethod]
    public void Hosts_with_different_numbers_of_ranks_fall_back_to_tcp_and_match_the_reference()
    {
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "b", "a"]);

        job.WaitForAll(TimeSpan.FromMinutes(3));

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "backend tcp", job.Describe());
            StringAssert.Contains(rank.Output, "PASS", job.Describe());
        }
    }

    [TestMethod]
    public void Every_collective_called_with_a_different_size_dtype_or_operation_on_the_other_host_fails_on_every_rank()
    {
        using var hosts = NamespacePair.Create();
        using var job = StartAcross(hosts, ["a", "a", "b", "b"], "mismatch-matrix half", ("ACCELERATE_COLLECTIVE_TIMEOUT", "30"));

        job.WaitForAll(TimeSpan.FromMinutes(5));

        foreach (var rank in job.Ranks) StringAssert.Contains(rank.Output, "backend shm+tcp", job.Describe());
        CollectiveMismatchTests.AssertEveryCaseFailedWithAcc2110(job.Ranks.Select(r => r.Output), 4, job.Describe);
    }

    private static RankProcesses StartAcross(NamespacePair hosts, string[] placement, string scenario = "check", params (string Name, string Value)[] settings)
    {
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        var job = new RankProcesses();
        for (var rank = 0; rank < placement.Length; rank++)
        {
            var environment = RankProcesses.Contract(rank, placement.Length, port, secret, masterAddress: NamespacePair.AddressA);
            environment["LOCAL_RANK"] = null;
            environment["LOCAL_WORLD_SIZE"] = null;
            foreach (var (variable, value) in settings) environment[variable] = value;
            var name = placement[rank] == "a" ? hosts.A : hosts.B;
            job.Start(environment, ["ip", "netns", "exec", name, "dotnet", RankProcesses.WorkerPath, .. scenario.Split(' ')]);
        }
        return job;
    }

    private sealed class NamespacePair : IDisposable
    {
        public const string AddressA = "10.231.0.1";
        private const string AddressB = "10.231.0.2";

        private NamespacePair(string a, string b)
        {
            A = a;
            B = b;
        }

        public string A { get; }

        public string B { get; }

        public static NamespacePair Create()
        {
            var suffix = $"{Environment.ProcessId % 100000}-{Random.Shared.Next(1000)}";
            var pair = new NamespacePair($"acc-a-{suffix}", $"acc-b-{suffix}");
            try
            {
                Ip($"netns add {pair.A}");
            }
            catch (InvalidOperationException e)
            {
                Assert.Inconclusive($"Network namespaces cannot be created here (needs root and iproute2): {e.Message}");
            }
            try
            {
                Ip($"netns add {pair.B}");
                var veth = $"v{suffix.Replace("-", "")}";
                Ip($"link add {veth}a netns {pair.A} type veth peer name {veth}b netns {pair.B}");
                Ip($"-n {pair.A} addr add {AddressA}/24 dev {veth}a");
                Ip($"-n {pair.B} addr add {AddressB}/24 dev {veth}b");
                foreach (var (ns, dev) in new[] { (pair.A, veth + "a"), (pair.B, veth + "b"), (pair.A, "lo"), (pair.B, "lo") })
                    Ip($"-n {ns} link set {dev} up");
            }
            catch
            {
                pair.Dispose();
                throw;
            }
            return pair;
        }

        private static void Ip(string arguments)
        {
            using var process = Process.Start(new ProcessStartInfo("ip", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })
                ?? throw new InvalidOperationException("ip could not start");
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"ip {arguments}: {error.Trim()}");
        }

        public void Dispose()
        {
            foreach (var name in new[] { A, B })
            {
                try
                {
                    Ip($"netns del {name}");
                }
                catch (InvalidOperationException)
                {
                    // Never created.
                }
            }
        }
    }
}
