namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// c10d jobs whose machines change while they run: a machine that arrives after the job started joins it with a new
/// rendezvous round while the job is below MAX (--nnodes MIN:MAX), and is turned away with a named error when the job
/// is at MAX or has finished. Each machine is a network namespace of its own.
/// </summary>
[TestClass]
public sealed class ElasticMembershipTests
{
    /// <summary>
    /// The same command on every machine. <paramref name="lastCall"/>: 1 s where the job starts alone; 10 s where a
    /// machine started first must be in the first round (it waits for the host, so it checks in well within that).
    /// </summary>
    private static string[] Options(NetworkNamespaces machines, string nnodes, int port, int lastCall = 1) =>
        ["--rdzv_backend", "c10d", "--rdzv_endpoint", $"{machines.Addresses[0]}:{port}", "--rdzv_id", "grow-1", "--nnodes", nnodes,
         "--nproc_per_node", "2", "--rdzv_timeout", "120", "--rdzv_last_call_timeout", lastCall.ToString(), "--cpu"];

    /// <summary>
    /// The ranks that reported (grow-to prints its environment only in the round with every machine) are those of one
    /// round on all the machines, without a restart used, and the first round's ranks are gone.
    /// </summary>
    private static void AssertOneNewRound(NetworkNamespaces machines, LauncherRun[] runs, List<int> firstRound)
    {
        var count = machines.Names.Count;
        var ranks = RankReport.From(runs.SelectMany(r => r.Stdout));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 2 * count).ToArray(), ranks.Select(r => r.Rank).ToArray(), string.Join("\n---\n", runs.Select(r => r.AllOutput)));
        foreach (var rank in ranks)
        {
            Assert.AreEqual(count.ToString(), rank.Env["GROUP_WORLD_SIZE"], "the new round has every machine");
            Assert.AreEqual((2 * count).ToString(), rank.Env["WORLD_SIZE"]);
            Assert.AreEqual("0", rank.Env["TORCHELASTIC_RESTART_COUNT"], "a membership change uses no restart");
            Assert.AreEqual(machines.Addresses[0], rank.Env["MASTER_ADDR"]);
        }
        Assert.IsEmpty(Processes.WaitUntilGone(firstRound), "the first round's ranks are gone");
    }

    [TestMethod]
    public void A_machine_arriving_at_a_running_1_to_2_job_starts_a_new_round_with_both_machines_without_using_a_restart()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29651;
        // --max_restarts 0: a membership change is no restart.
        string[] command = [.. Options(machines, "1:2", port), "--max_restarts", "0", LauncherRun.RankProbeDll, "grow-to", "2"];
        using var host = LauncherRun.Start(command, prefix: machines.Exec(0));
        var firstRound = new List<int>();
        try
        {
            host.WaitForLines(l => l.Contains("ready rank="), 2, 120);
            firstRound = Processes.ReadyPids(host.Stdout);
            using var newcomer = LauncherRun.Start(command, prefix: machines.Exec(1));

            Assert.AreEqual(0, newcomer.WaitForExit(180), newcomer.AllOutput + "\n---\n" + host.AllOutput);
            Assert.AreEqual(0, host.WaitForExit(180), host.AllOutput);
            StringAssert.Contains(newcomer.WaitForLine(l => l.Contains("is running on 1 machine(s)")), "waiting for a new round");
            StringAssert.Contains(host.WaitForLine(l => l.Contains("machine(s) waiting to join;")), "new rendezvous round with up to 2 machines");
            Assert.AreEqual(2, host.Stdout.Count(l => l.Contains("got SIGTERM")), "the first round's ranks were asked to checkpoint");
            host.WaitForLine(l => l.StartsWith("[rank 0] rendezvous ok port=", StringComparison.Ordinal) && l.EndsWith(" ranks=1,2,3", StringComparison.Ordinal));

            AssertOneNewRound(machines, [host, newcomer], firstRound);
            CollectionAssert.AreEqual(new[] { "0", "0" }, RankReport.From(host.Stdout).Select(r => r.Env["GROUP_RANK"]).ToArray(), "the host stays machine 0");
        }
        finally
        {
            Processes.KillAll(firstRound);
        }
    }

    [TestMethod]
    public void A_third_machine_arriving_at_a_running_1_to_3_job_of_two_starts_a_new_round_with_all_three()
    {
        using var machines = NetworkNamespaces.TryCreate(3, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29655;
        string[] command = [.. Options(machines, "1:3", port, lastCall: 10), LauncherRun.RankProbeDll, "grow-to", "3"];
        // Machine 1 waits for the host, so both are in the first round; it starts after the last call (below MAX).
        using var joiner = LauncherRun.Start(command, prefix: machines.Exec(1));
        joiner.WaitForLine(l => l.Contains("joining machine 0"), 120);
        using var host = LauncherRun.Start(command, prefix: machines.Exec(0));
        var firstRound = new List<int>();
        try
        {
            host.WaitForLines(l => l.Contains("ready rank="), 2, 120);
            joiner.WaitForLines(l => l.Contains("ready rank="), 2, 120);
            firstRound = Processes.ReadyPids(host.Stdout.Concat(joiner.Stdout));
            using var third = LauncherRun.Start(command, prefix: machines.Exec(2));

            var all = () => string.Join("\n---\n", host.AllOutput, joiner.AllOutput, third.AllOutput);
            Assert.AreEqual(0, third.WaitForExit(180), all());
            Assert.AreEqual(0, host.WaitForExit(180), all());
            Assert.AreEqual(0, joiner.WaitForExit(180), all());
            joiner.WaitForLine(l => l.Contains("a machine is joining the job"));
            AssertOneNewRound(machines, [host, joiner, third], firstRound);
        }
        finally
        {
            Processes.KillAll(firstRound);
        }
    }

    [TestMethod]
    public void A_machine_arriving_at_a_job_already_at_max_is_turned_away_naming_max_and_the_job_goes_on()
    {
        using var machines = NetworkNamespaces.TryCreate(3, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29652;
        string[] command = [.. Options(machines, "1:2", port, lastCall: 10), LauncherRun.RankProbeDll, "wait"];
        using var joiner = LauncherRun.Start(command, prefix: machines.Exec(1));
        joiner.WaitForLine(l => l.Contains("joining machine 0"), 120);
        using var host = LauncherRun.Start(command, prefix: machines.Exec(0));
        host.WaitForLines(l => l.Contains("ready rank="), 2, 120);
        joiner.WaitForLines(l => l.Contains("ready rank="), 2, 120);

        using var third = LauncherRun.Start(command, prefix: machines.Exec(2));
        Assert.AreEqual(1, third.WaitForExit(120), third.AllOutput);
        var error = third.WaitForLine(l => l.Contains("ACC3120"));
        StringAssert.Contains(error, "already runs on 2 machines, the most --nnodes 1:2 allows");
        StringAssert.Contains(error, "raise MAX");
        Assert.IsEmpty(RankReport.From(third.Stdout), "no rank started on the third machine");
        Assert.IsFalse(host.Lines.Any(l => l.Contains("got SIGTERM")), "the running ranks were left alone");

        host.Signal(Processes.SIGTERM);
        Assert.AreEqual(143, host.WaitForExit(120), host.AllOutput);
        Assert.AreNotEqual(0, joiner.WaitForExit(120), joiner.AllOutput);
    }

    [TestMethod]
    public void A_machine_arriving_when_the_job_is_finishing_is_told_the_rendezvous_is_closed()
    {
        using var machines = NetworkNamespaces.TryCreate(3, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29653;
        var trigger = Path.Combine(Path.GetTempPath(), $"accelerate-closed-{Environment.ProcessId}-{port}");
        string[] command = [.. Options(machines, "1:3", port, lastCall: 10), LauncherRun.RankProbeDll, "machine0-first", trigger];
        try
        {
            using var joiner = LauncherRun.Start(command, prefix: machines.Exec(1));
            joiner.WaitForLine(l => l.Contains("joining machine 0"), 120);
            using var host = LauncherRun.Start(command, prefix: machines.Exec(0));
            // The host's ranks end at once; machine 1's wait for the trigger: the job is finishing.
            joiner.WaitForLines(l => l.Contains("ready rank="), 2, 180);

            using var late = LauncherRun.Start(command, prefix: machines.Exec(2));
            Assert.AreEqual(1, late.WaitForExit(120), late.AllOutput);
            StringAssert.Contains(late.WaitForLine(l => l.Contains("ACC3121")), "the rendezvous is closed");
            Assert.IsEmpty(RankReport.From(late.Stdout), "no rank started on the late machine");

            File.WriteAllText(trigger, "");
            Assert.AreEqual(0, joiner.WaitForExit(120), joiner.AllOutput);
            Assert.AreEqual(0, host.WaitForExit(120), host.AllOutput);
        }
        finally
        {
            File.Delete(trigger);
        }
    }

    [TestMethod]
    public void Pods_of_an_elastic_pytorchjob_with_only_pet_variables_and_a_node_range_meet_through_c10d()
    {
        using var pods = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29654;
        // What Kubeflow's training operator sets in each pod of a PyTorchJob with elasticPolicy minReplicas 1, maxReplicas 2.
        var pod = new Dictionary<string, string?>
        {
            ["PET_NNODES"] = "1:2", ["PET_NPROC_PER_NODE"] = "2", ["PET_RDZV_BACKEND"] = "c10d",
            ["PET_RDZV_ENDPOINT"] = $"{pods.Addresses[0]}:{port}", ["PET_RDZV_ID"] = "elastic-job", ["ACCELERATE_RDZV_TIMEOUT"] = "120",
        };
        using var second = LauncherRun.Start(["--debug", "--cpu", LauncherRun.RankProbeDll, "rendezvous"], pod, prefix: pods.Exec(1));
        second.WaitForLine(l => l.Contains("joining machine 0"), 120);
        using var first = LauncherRun.Start(["--debug", "--cpu", LauncherRun.RankProbeDll, "rendezvous"], pod, prefix: pods.Exec(0));

        Assert.AreEqual(0, first.WaitForExit(120), first.AllOutput + "\n---\n" + second.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(120), second.AllOutput);
        StringAssert.Matches(first.AllOutput, new System.Text.RegularExpressions.Regex(@"num_machines\s+2\s+pet\s+MAX of PET_NNODES 1:2"));
        StringAssert.Matches(first.AllOutput, new System.Text.RegularExpressions.Regex(@"rdzv_backend\s+c10d\s+pet\s+PET_RDZV_BACKEND"));
        var ranks = RankReport.From(first.Stdout.Concat(second.Stdout));
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 3 }, ranks.Select(r => r.Rank).ToArray());
        foreach (var rank in ranks)
        {
            Assert.AreEqual("2", rank.Env["GROUP_WORLD_SIZE"]);
            Assert.AreEqual("elastic-job", rank.Env["TORCHELASTIC_RUN_ID"]);
        }
    }
}
