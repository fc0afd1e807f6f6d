namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class MultiMachineTests
{
    private static string[] MachineOptions(NetworkNamespacePair machines, int machineRank, int numMachines, int port, int timeout) =>
        ["--num_machines", numMachines.ToString(), "--machine_rank", machineRank.ToString(), "--num_processes", (2 * numMachines).ToString(),
         "--main_process_ip", machines.Addresses[0], "--main_process_port", port.ToString(), "--rdzv_timeout", timeout.ToString(), "--cpu"];

    [TestMethod]
    public void Two_machines_get_global_ranks_and_their_ranks_meet_at_rank_0()
    {
        using var machines = NetworkNamespacePair.TryCreate(out var reason) ?? throw new AssertInconclusiveException(reason);
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
    public void A_machine_that_never_arrives_fails_every_waiting_machine_naming_it()
    {
        using var machines = NetworkNamespacePair.TryCreate(out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29612;
        // Three machines expected, machine 2 never starts.
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 3, port, 3), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(0));
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 3, port, 3), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
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
        using var machines = NetworkNamespacePair.TryCreate(out var reason) ?? throw new AssertInconclusiveException(reason);
        using var second = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29613, 2), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
        StringAssert.Contains(second.WaitForLine(l => l.Contains("ACC3030")), "machine rank 0 of 2 did not join");
    }

    [TestMethod]
    public void Machines_that_disagree_on_the_job_are_turned_away()
    {
        using var machines = NetworkNamespacePair.TryCreate(out var reason) ?? throw new AssertInconclusiveException(reason);
        const int port = 29614;
        string[] wrong = ["--num_machines", "2", "--machine_rank", "1", "--num_processes", "6", "--main_process_ip", machines.Addresses[0],
            "--main_process_port", port.ToString(), "--rdzv_timeout", "3", "--cpu"];
        using var first = LauncherRun.Start([.. MachineOptions(machines, 0, 2, port, 3), LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(0));
        using var second = LauncherRun.Start([.. wrong, LauncherRun.RankProbeDll, "env"], prefix: machines.Exec(1));
        Assert.AreEqual(1, second.WaitForExit(), second.AllOutput);
        StringAssert.Contains(second.WaitForLine(l => l.Contains("ACC3031")), "use the same values on every machine");
        Assert.AreEqual(1, first.WaitForExit(), first.AllOutput);
        first.WaitForLine(l => l.Contains("machine rank 1 of 2 did not join"));
    }

    [TestMethod]
    public void A_secret_set_on_every_machine_is_used_and_a_different_one_is_turned_away()
    {
        using var machines = NetworkNamespacePair.TryCreate(out var reason) ?? throw new AssertInconclusiveException(reason);
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
        using var host = LauncherRun.Start([.. MachineOptions(machines, 0, 2, 29616, 3), LauncherRun.RankProbeDll, "env"], same, machines.Exec(0));
        using var stranger = LauncherRun.Start([.. MachineOptions(machines, 1, 2, 29616, 3), LauncherRun.RankProbeDll, "env"], other, machines.Exec(1));
        Assert.AreEqual(1, stranger.WaitForExit(), stranger.AllOutput);
        StringAssert.Contains(stranger.WaitForLine(l => l.Contains("ACC3031")), "ACCELERATE_LAUNCH_SECRET differs");
        Assert.AreEqual(1, host.WaitForExit(), host.AllOutput);
    }
}
