namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// The c10d rendezvous: the same command on every machine, machine ranks given out at the rendezvous. Each machine
/// is a network namespace of its own.
/// </summary>
[TestClass]
public sealed class DynamicRendezvousTests
{
    /// <summary>For jobs that must time out: long enough for a launcher to start on a loaded 2-core machine.</summary>
    private const int RendezvousTimeout = 15;

    private static string[] Options(NetworkNamespaces machines, object nnodes, int port, int timeout, string id = "job-1") =>
        ["--rdzv_backend", "c10d", "--rdzv_endpoint", $"{machines.Addresses[0]}:{port}", "--rdzv_id", id, "--nnodes", nnodes.ToString()!,
         "--nproc_per_node", "2", "--rdzv_timeout", timeout.ToString(), "--cpu"];

    /// <summary>Starts one launcher per entry of <paramref name="order"/> (the namespace it runs in), in that order.</summary>
    private static List<LauncherRun> StartInOrder(NetworkNamespaces machines, int[] order, int port, string? nnodes = null, params string[] extra)
    {
        var runs = new List<LauncherRun>();
        foreach (var where in order)
            runs.Add(Start(machines, where, nnodes ?? order.Length.ToString(), port, extra));
        return runs;
    }

    private static LauncherRun Start(NetworkNamespaces machines, int where, string nnodes, int port, params string[] extra)
        => LauncherRun.Start([.. Options(machines, nnodes, port, 120), .. extra, LauncherRun.RankProbeDll, "rendezvous"], prefix: machines.Exec(where));

    /// <summary>Every launcher succeeds, the one in the endpoint's namespace is machine 0, and each machine got its own rank.</summary>
    private static void AssertTheJobRanOnce(NetworkNamespaces machines, int[] order, List<LauncherRun> runs, int port)
    {
        var output = string.Join("\n---\n", runs.Select(r => r.AllOutput));
        foreach (var run in runs) Assert.AreEqual(0, run.WaitForExit(120), output);
        var host = runs[Array.IndexOf(order, 0)];
        var ranks = string.Join(',', Enumerable.Range(1, 2 * order.Length - 1));
        var reports = runs.Select(r => RankReport.From(r.Stdout)).ToList();
        // The launcher keeps the endpoint for machines that join later: the ranks' store has a port of its own.
        var masterPort = RankReport.From(host.Stdout)[0].Env["MASTER_PORT"];
        Assert.AreNotEqual(port.ToString(), masterPort);
        host.WaitForLine(l => l == $"[rank 0] rendezvous ok port={masterPort} ranks={ranks}");
        CollectionAssert.AreEqual(new[] { 0, 1 }, RankReport.From(host.Stdout).Select(r => r.Rank).ToArray(), "the host is machine 0");
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 2 * order.Length).ToArray(), reports.SelectMany(r => r).Select(r => r.Rank).ToArray(), output);
        foreach (var report in reports)
        {
            Assert.HasCount(2, report);
            var group = int.Parse(report[0].Env["GROUP_RANK"]);
            foreach (var rank in report)
            {
                Assert.AreEqual(group.ToString(), rank.Env["GROUP_RANK"], "one machine rank per launcher");
                Assert.AreEqual((2 * group + int.Parse(rank.Env["LOCAL_RANK"])).ToString(), rank.Env["RANK"]);
                Assert.AreEqual(order.Length.ToString(), rank.Env["GROUP_WORLD_SIZE"]);
                Assert.AreEqual((2 * order.Length).ToString(), rank.Env["WORLD_SIZE"]);
                Assert.AreEqual(machines.Addresses[0], rank.Env["MASTER_ADDR"]);
                Assert.AreEqual(masterPort, rank.Env["MASTER_PORT"]);
            }
        }
        var all = reports.SelectMany(r => r).ToList();
        Assert.AreEqual(1, all.Select(r => r.Env["TORCHELASTIC_RUN_ID"]).Distinct().Count(), "one job id");
        Assert.AreEqual("job-1", all[0].Env["TORCHELASTIC_RUN_ID"], "--rdzv_id names the job");
        Assert.AreEqual(1, all.Select(r => r.Env["ACCELERATE_LAUNCH_SECRET"]).Distinct().Count(), "the host shared its secret");
    }

    [TestMethod]
    [DataRow(new[] { 0, 1 }, 29631)]
    [DataRow(new[] { 1, 0 }, 29632)]
    public void Two_machines_running_the_same_command_meet_in_either_order_and_their_ranks_meet_at_rank_0(int[] order, int port)
        => RunsOnceStartedInOrder(order, port);

    [TestMethod]
    [DataRow(new[] { 1, 2, 0 }, 29633)]
    [DataRow(new[] { 1, 0, 2 }, 29634)]
    [DataRow(new[] { 0, 1, 2 }, 29635)]
    public void Three_machines_running_the_same_command_meet_in_any_order_and_each_gets_its_own_machine_rank(int[] order, int port)
        => RunsOnceStartedInOrder(order, port);

    /// <summary>One launcher per entry of <paramref name="order"/>, started in that order, all with the same command.</summary>
    private static void RunsOnceStartedInOrder(int[] order, int port)
    {
        using var machines = NetworkNamespaces.TryCreate(order.Length, out var reason) ?? throw new AssertInconclusiveException(reason);
        var runs = StartInOrder(machines, order, port);
        try
        {
            AssertTheJobRanOnce(machines, order, runs, port);
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    [TestMethod]
    public void A_machine_with_another_rdzv_id_is_turned_away_naming_both_ids()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29636;
        using var host = LauncherRun.Start([.. Options(machines, 2, port, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(0));
        host.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using var stranger = LauncherRun.Start([.. Options(machines, 2, port, RendezvousTimeout, id: "job-2"), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, stranger.WaitForExit(), stranger.AllOutput);
        var error = stranger.WaitForLine(l => l.Contains("ACC3090"));
        StringAssert.Contains(error, "--rdzv_id job-2");
        StringAssert.Contains(error, "job-1");
        Assert.AreEqual(1, host.WaitForExit(), host.AllOutput);
        StringAssert.Contains(host.WaitForLine(l => l.Contains("ACC3091")), "only 1 of the 2 machines needed (--nnodes) joined the c10d rendezvous");
        Assert.IsEmpty(RankReport.From(host.Stdout.Concat(stranger.Stdout)), "no rank started");
    }

    [TestMethod]
    public void A_third_machine_joining_a_2_to_3_job_during_the_last_call_is_included()
    {
        using var machines = NetworkNamespaces.TryCreate(3, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29637;
        // A long last call: the third launcher must start and check in within it however loaded this machine is;
        // the job starts as soon as the third (the most) has joined, so nothing waits for the whole last call.
        var runs = StartInOrder(machines, [0, 1], port, "2:3", "--rdzv_last_call_timeout", "120");
        try
        {
            runs[0].WaitForLine(l => l.Contains("machine 0: 2 machine(s) have joined (2:3)"), 120);
            Assert.IsFalse(runs.Any(r => r.Stdout.Any(l => l.StartsWith("[rank", StringComparison.Ordinal))), "no rank starts during the last call");
            runs.Add(Start(machines, 2, "2:3", port, "--rdzv_last_call_timeout", "120"));
            AssertTheJobRanOnce(machines, [0, 1, 2], runs, port);
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    [TestMethod]
    public void A_2_to_3_job_starts_on_the_two_machines_there_once_the_last_call_has_passed()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29638;
        var runs = StartInOrder(machines, [1, 0], port, "2:3", "--rdzv_conf", "last_call_timeout=2");
        try
        {
            AssertTheJobRanOnce(machines, [1, 0], runs, port);
            runs[1].WaitForLine(l => l.Contains("waiting 2 s for more (--rdzv_last_call_timeout)"));
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    [TestMethod]
    public void A_machine_whose_launcher_is_killed_mid_job_starts_a_new_round_and_the_job_finishes_on_the_machine_left()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29639;
        string[] options = [.. Options(machines, "1:2", port, 120), "--max_restarts", "1", "--rdzv_last_call_timeout", "10", LauncherRun.RankProbeDll, "wait-then-rendezvous"];
        // The joining machine starts first and waits for the host, so both are in long before the host's last call ends.
        using var joiner = LauncherRun.Start(options, prefix: machines.Exec(1));
        joiner.WaitForLine(l => l.Contains("joining machine 0"), 120);
        using var host = LauncherRun.Start(options, prefix: machines.Exec(0));
        var joinerRanks = new List<int>();
        try
        {
            joiner.WaitForLines(l => l.Contains("ready rank="), 2, 120);
            host.WaitForLines(l => l.Contains("ready rank="), 2, 120);
            joinerRanks = Processes.ReadyPids(joiner.Stdout);
            joiner.Signal(9);

            Assert.AreEqual(0, host.WaitForExit(180), host.AllOutput);
            StringAssert.Contains(host.WaitForLine(l => l.Contains("starting a new rendezvous round")), "the launcher on machine 1 is gone");
            host.WaitForLine(l => l.StartsWith("[rank 0] rendezvous ok port=", StringComparison.Ordinal) && l.EndsWith(" ranks=1", StringComparison.Ordinal));
            var second = RankReport.From(host.Stdout);
            Assert.HasCount(2, second, host.AllOutput);
            foreach (var rank in second)
            {
                Assert.AreEqual("1", rank.Env["TORCHELASTIC_RESTART_COUNT"], "the second attempt");
                Assert.AreEqual("1", rank.Env["GROUP_WORLD_SIZE"], "the world shrank to the machine left");
                Assert.AreEqual("2", rank.Env["WORLD_SIZE"]);
                Assert.AreEqual("0", rank.Env["GROUP_RANK"]);
            }
            Assert.IsEmpty(Processes.WaitUntilGone(joinerRanks), "the killed launcher's ranks are gone");
        }
        finally
        {
            Processes.KillAll(joinerRanks.Concat(Processes.ReadyPids(host.Stdout)));
        }
    }

    [TestMethod]
    public void A_secret_set_on_every_machine_is_used_and_a_machine_with_another_is_turned_away()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        var secret = string.Concat(Enumerable.Repeat("0123456789abcdef", 4));
        var same = new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = secret };
        using (var joiner = LauncherRun.Start([.. Options(machines, 2, 29640, 60), LauncherRun.RankProbeDll, "env"], same, machines.Exec(1)))
        using (var host = LauncherRun.Start([.. Options(machines, 2, 29640, 60), LauncherRun.RankProbeDll, "env"], same, machines.Exec(0)))
        {
            Assert.AreEqual(0, host.WaitForExit(), host.AllOutput);
            Assert.AreEqual(0, joiner.WaitForExit(), joiner.AllOutput);
            var ranks = RankReport.From(host.Stdout.Concat(joiner.Stdout));
            Assert.HasCount(4, ranks);
            Assert.IsTrue(ranks.All(r => r.Env["ACCELERATE_LAUNCH_SECRET"] == secret));
        }

        var other = new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = secret.Replace('0', 'f') };
        using var owner = LauncherRun.Start([.. Options(machines, 2, 29641, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], same, machines.Exec(0));
        owner.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using var stranger = LauncherRun.Start([.. Options(machines, 2, 29641, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], other, machines.Exec(1));
        Assert.AreEqual(1, stranger.WaitForExit(), stranger.AllOutput);
        StringAssert.Contains(stranger.WaitForLine(l => l.Contains("ACC3031")), "ACCELERATE_LAUNCH_SECRET differs");
        Assert.AreEqual(1, owner.WaitForExit(), owner.AllOutput);
        Assert.IsEmpty(RankReport.From(owner.Stdout.Concat(stranger.Stdout)), "no rank started");
    }
}
