namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class MultiMachineTests
{
    /// <summary>For jobs that must time out: long enough for a launcher to start on a loaded 2-core machine.</summary>
    private const int RendezvousTimeout = 15;

    private static string[] MachineOptions(NetworkNamespaces machines, int machineRank, int numMachines, int port, int timeout) =>
        ["--num_machines", numMachines.ToString(), "--machine_rank", machineRank.ToString(), "--num_processes", (2 * numMachines).ToString(),
         "--main_process_ip", machines.Addresses[0], "--main_process_port", port.ToString(), "--rdzv_timeout", timeout.ToString(), "--cpu"];

    [TestMethod]
    public void Two_machines_get_global_ranks_and_their_ranks_meet_at_rank_0()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29611;
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, port, 60), LauncherRun.RankProbeDll, "rendezvous"], prefix: machines.Exec(1));
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, port, 60), LauncherRun.RankProbeDll, "rendezvous"], prefix: machines.Exec(0));
        Assert.AreEqual(0, first.WaitForExit(), first.AllOutput + "\n---\n" + second.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);

        first.WaitForLine(l => l == $"[rank 0] rendezvous ok port={port} ranks=1,2,3");
        var onFirst = RankReport.From(first.Stdout);
        var onSecond = RankReport.From(second.Stdout);
        CollectionAssert.AreEqual(new[] { 0, 1 }, onFirst.Select(r => r.Rank).ToArray());
        CollectionAssert.AreEqual(new[] { 2, 3 }, onSecond.Select(r => r.Rank).ToArray());
        foreach (var rank in onSecond)
        {
            Assert.AreEqual((rank.Rank - 2).ToString(), rank.Env["LOCAL_RANK"]);
            Assert.AreEqual("1", rank.Env["GROUP_RANK"]);
            Assert.AreEqual("2", rank.Env["GROUP_WORLD_SIZE"]);
            Assert.AreEqual("4", rank.Env["WORLD_SIZE"]);
            Assert.AreEqual("2", rank.Env["LOCAL_WORLD_SIZE"]);
            Assert.AreEqual(machines.Addresses[0], rank.Env["MASTER_ADDR"]);
            Assert.AreEqual(port.ToString(), rank.Env["MASTER_PORT"]);
        }
        var all = onFirst.Concat(onSecond).ToList();
        Assert.AreEqual(1, all.Select(r => r.Env["ACCELERATE_LAUNCH_SECRET"]).Distinct().Count(), "machine 0 shared its secret");
        Assert.AreEqual(1, all.Select(r => r.Env["TORCHELASTIC_RUN_ID"]).Distinct().Count(), "one job id");
    }

    [TestMethod]
    public void Two_pods_of_a_pytorchjob_meet_with_only_the_pet_variables_kubeflow_sets()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29615;
        Dictionary<string, string?> Pod(int rank) => new()
        {
            ["PET_NNODES"] = "2", ["PET_NPROC_PER_NODE"] = "2", ["PET_NODE_RANK"] = rank.ToString(),
            ["PET_MASTER_ADDR"] = machines.Addresses[0], ["PET_MASTER_PORT"] = port.ToString(), ["ACCELERATE_RDZV_TIMEOUT"] = "60",
        };
        using var second = LauncherRun.Start(["--debug", LauncherRun.RankProbeDll, "rendezvous"], Pod(1), prefix: machines.Exec(1));
        using var first = LauncherRun.Start(["--debug", LauncherRun.RankProbeDll, "rendezvous"], Pod(0), prefix: machines.Exec(0));
        Assert.AreEqual(0, first.WaitForExit(), first.AllOutput + "\n---\n" + second.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);

        first.WaitForLine(l => l == $"[rank 0] rendezvous ok port={port} ranks=1,2,3");
        CollectionAssert.AreEqual(new[] { 2, 3 }, RankReport.From(second.Stdout).Select(r => r.Rank).ToArray());
        StringAssert.Matches(second.AllOutput, new System.Text.RegularExpressions.Regex(@"machine_rank\s+1\s+pet\s+PET_NODE_RANK"));
    }

    [TestMethod]
    public void A_machine_that_never_arrives_fails_every_waiting_machine_naming_it()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29612;
        // Three machines expected, machine 2 never starts. Machine 1 starts once machine 0 waits, well within the
        // timeout however loaded this machine is, so that machine 2 alone is missing.
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 3, port, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(0));
        first.WaitForLine(l => l.Contains("machine 0: waiting for 2 other machine(s)"));
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 3, port, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, first.WaitForExit(), first.AllOutput);
        Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
        foreach (var run in new[] { first, second })
        {
            var error = run.WaitForLine(l => l.Contains("ACC3030"));
            StringAssert.Contains(error, "machine rank 2 of 3 did not join the rendezvous");
            StringAssert.Contains(error, $"{machines.Addresses[0]}:{port}");
            Assert.IsEmpty(RankReport.From(run.Stdout), "no rank started");
        }
    }

    [TestMethod]
    public void A_machine_whose_machine_0_never_answers_names_machine_0()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29613, 2), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
        StringAssert.Contains(second.WaitForLine(l => l.Contains("ACC3030")), "machine rank 0 of 2 did not join");
    }

    [TestMethod]
    public void Machines_that_disagree_on_the_job_are_turned_away()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29614;
        string[] wrong = ["--num_machines", "2", "--machine_rank", "1", "--num_processes", "6", "--main_process_ip", machines.Addresses[0],
            "--main_process_port", port.ToString(), "--rdzv_timeout", RendezvousTimeout.ToString(), "--cpu"];
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, port, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(0));
        first.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using var second = LauncherRun.Start([.. wrong, LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
        StringAssert.Contains(second.WaitForLine(l => l.Contains("ACC3031")), "use the same values on every machine");
        Assert.AreEqual(1, first.WaitForExit(), first.AllOutput);
        first.WaitForLine(l => l.Contains("machine rank 1 of 2 did not join"));
    }

    [TestMethod]
    public void A_secret_set_on_every_machine_is_used_and_a_different_one_is_turned_away()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        var secret = string.Concat(Enumerable.Repeat("0123456789abcdef", 4));
        var same = new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = secret };
        using (var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29615, 30), LauncherRun.RankProbeDll, "env"], same, machines.Exec(0)))
        using (var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29615, 30), LauncherRun.RankProbeDll, "env"], same, machines.Exec(1)))
        {
            Assert.AreEqual(0, first.WaitForExit(), first.AllOutput);
            Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
            Assert.IsTrue(RankReport.From(first.Stdout.Concat(second.Stdout)).All(r => r.Env["ACCELERATE_LAUNCH_SECRET"] == secret));
        }

        var other = new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = secret.Replace('0', 'f') };
        using var host = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29616, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], same, machines.Exec(0));
        host.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using var stranger = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29616, RendezvousTimeout), LauncherRun.RankProbeDll, "env"], other, machines.Exec(1));
        Assert.AreEqual(1, stranger.WaitForExit(), stranger.AllOutput);
        StringAssert.Contains(stranger.WaitForLine(l => l.Contains("ACC3031")), "ACCELERATE_LAUNCH_SECRET differs");
        Assert.AreEqual(1, host.WaitForExit(), host.AllOutput);
    }

    [TestMethod]
    public void A_rank_failing_on_one_machine_stops_the_ranks_on_the_other()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29617, 60), LauncherRun.RankProbeDll, "fail", "3", "7"], prefix: machines.Exec(0));
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29617, 60), LauncherRun.RankProbeDll, "fail", "3", "7"], prefix: machines.Exec(1));
        try
        {
            Assert.AreEqual(7, second.WaitForExit(), second.AllOutput);
            Assert.AreEqual(7, first.WaitForExit(), first.AllOutput);
            second.WaitForLine(l => l.Contains("rank      : 3 (local_rank: 1)"));
            first.WaitForLine(l => l.Contains("rank 3 on machine 1 failed (exit code 7)") && l.Contains("machine 1's output"));
            Assert.IsEmpty(Processes.WaitUntilGone(Processes.ReadyPids(first.Lines.Concat(second.Lines)), 5));
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(first.Lines.Concat(second.Lines)));
        }
    }

    [TestMethod]
    public void A_failure_on_one_machine_restarts_the_ranks_on_every_machine()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        string[] options = ["--max_restarts", "2"];
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29618, 60), .. options, LauncherRun.RankProbeDll, "restart-until", "1", "3"], prefix: machines.Exec(0));
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29618, 60), .. options, LauncherRun.RankProbeDll, "restart-until", "1", "3"], prefix: machines.Exec(1));
        try
        {
            Assert.AreEqual(0, first.WaitForExit(), first.AllOutput + "\n---\n" + second.AllOutput);
            Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
            first.WaitForLine(l => l.Contains("rank 3 on machine 1 failed (exit code 5); restarting the group (restart 1 of 2)"));
            foreach (var rank in new[] { 0, 1 }) first.WaitForLine(l => l == $"[rank {rank}] attempt restart=1 rank={rank}");
            foreach (var rank in new[] { 2, 3 }) second.WaitForLine(l => l == $"[rank {rank}] attempt restart=1 rank={rank}");
        }
        finally
        {
            Processes.KillAll(Processes.ReadyPids(first.Lines.Concat(second.Lines)));
        }
    }

    [TestMethod]
    public void When_a_machines_launcher_is_killed_the_other_machine_stops_its_ranks()
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29619, 60), LauncherRun.RankProbeDll, "wait"], prefix: machines.Exec(0));
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29619, 60), LauncherRun.RankProbeDll, "wait"], prefix: machines.Exec(1));
        var pids = Processes.ReadyPids(first.WaitForLines(l => l.Contains("ready rank="), 2).Concat(second.WaitForLines(l => l.Contains("ready rank="), 2)));
        try
        {
            // ip netns exec runs the launcher as its own process (exec), so this pid is the launcher.
            second.Signal(Processes.SIGKILL);
            Assert.AreEqual(1, first.WaitForExit(), first.AllOutput);
            first.WaitForLine(l => l.Contains("the launcher on machine 1 is gone"));
            first.WaitForLines(l => l.Contains("got SIGTERM"), 2);
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 10), "ranks on both machines are gone");
        }
        finally
        {
            Processes.KillAll(pids);
        }
    }

    [TestMethod]
    [DataRow("cut")]
    [DataRow("freeze")]
    public void Machine_0_waiting_for_a_machine_that_vanished_stops_naming_it_within_the_heartbeat_timeout(string how)
    {
        using var machines = NetworkNamespaces.TryCreate(2, out var reason) ?? throw new AssertInconclusiveException(reason);
        var heartbeat = new Dictionary<string, string?> { ["ACCELERATE_MACHINE_HEARTBEAT_TIMEOUT"] = "6" };
        var port = how == "cut" ? 29620 : 29621;
        // Machine 0's ranks finish at once while machine 1's keep running: machine 0 waits for machine 1's DONE.
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, port, 60), LauncherRun.RankProbeDll, "wait"], heartbeat, machines.Exec(1));
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, port, 60), LauncherRun.RankProbeDll, "env"], heartbeat, machines.Exec(0));
        var pids = Processes.ReadyPids(second.WaitForLines(l => l.Contains("ready rank="), 2));
        try
        {
            Assert.HasCount(2, RankReport.From(first.WaitForLines(l => l.Contains("] ENV "), 2)), "machine 0's ranks ran");
            if (how == "cut") machines.Cut(0);
            else second.Signal(Processes.SIGSTOP);

            Assert.AreEqual(1, first.WaitForExit(), first.AllOutput);
            first.WaitForLine(l => l.Contains("ACC3042") && l.Contains("machine 1"));
            if (how == "freeze") second.Signal(Processes.SIGCONT);
            Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
            if (how == "cut") second.WaitForLine(l => l.Contains("ACC3042") && l.Contains("machine 0"));
            Assert.IsEmpty(Processes.WaitUntilGone(pids, 10), "machine 1's ranks are stopped");
        }
        finally
        {
            if (how == "freeze") second.Signal(Processes.SIGCONT);
            Processes.KillAll(pids);
        }
    }

    [TestMethod]
    public void A_stranger_at_the_rendezvous_port_is_turned_away_and_the_job_goes_on()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { probe.Start(); port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port; probe.Stop(); }
        string[] Options(int machine) => ["--num_machines", "2", "--machine_rank", machine.ToString(), "--num_processes", "2", "--main_process_ip", "127.0.0.1",
            "--main_process_port", port.ToString(), "--rdzv_timeout", "60", "--cpu", LauncherRun.RankProbeDll, "env"];
        using var first = LauncherRun.Start(Options(0));
        first.WaitForLine(l => l.Contains("machine 0: waiting for 1 other machine(s)"));
        using (var stranger = new System.Net.Sockets.TcpClient())
        {
            stranger.Connect(System.Net.IPAddress.Loopback, port);
            stranger.GetStream().Write("GET / HTTP/1.0\n"u8);
            using var reader = new StreamReader(stranger.GetStream());
            StringAssert.StartsWith(reader.ReadLine(), "ACCELERATE-RDZV/2 ", "machine 0 greets with its nonce");
            StringAssert.StartsWith(reader.ReadLine(), "ERROR not an accelerate launcher check-in");
        }
        using var second = LauncherRun.Start(Options(1));
        Assert.AreEqual(0, first.WaitForExit(), first.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
        CollectionAssert.AreEqual(new[] { 0, 1 }, RankReport.From(first.Stdout.Concat(second.Stdout)).Select(r => r.Rank).ToArray());
    }
}
