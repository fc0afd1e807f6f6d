using System.Text.Json.Nodes;
using Accelerate.Runtime.Tests.Distributed;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// Two "machines" that share no checkpoint folder: two ranks, each the only process of its machine
/// (its own GROUP_RANK, LOCAL_WORLD_SIZE = 1), rank 1 in a mount namespace where another folder is
/// bind-mounted over the checkpoint folder, so the two see the same path but different contents.
/// </summary>
[TestClass]
public sealed class SaveOnEachNodeTests
{
    private DirectoryInfo? _machineA, _machineB, _results;

    [TestInitialize]
    public void CreateMachines()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/unshare"))
            Assert.Inconclusive("Machines with their own checkpoint folder need root and util-linux (unshare).");
        _machineA = Directory.CreateTempSubdirectory("accelerate-machine-a-");
        _machineB = Directory.CreateTempSubdirectory("accelerate-machine-b-");
        _results = Directory.CreateTempSubdirectory("accelerate-machines-out-");
    }

    [TestCleanup]
    public void RemoveMachines()
    {
        foreach (var folder in new[] { _machineA, _machineB, _results })
            if (folder is { Exists: true }) folder.Delete(recursive: true);
    }

    [TestMethod]
    public void A_checkpoint_in_a_folder_another_machine_does_not_see_fails_on_every_rank_with_a_code_naming_SaveOnEachNode()
    {
        using var job = Start("steps=4", "save_at=2");

        job.WaitForAll(TimeSpan.FromSeconds(150));

        foreach (var rank in job.Ranks)
        {
            Assert.AreNotEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "ACC2291", job.Describe());
            StringAssert.Contains(rank.Output, "SaveOnEachNode", job.Describe());
        }
        Assert.IsFalse(Directory.Exists(Path.Combine(_machineA!.FullName, "checkpoint")), "no checkpoint appears that the other machine lacks");
    }

    [TestMethod]
    public void With_SaveOnEachNode_every_machine_holds_a_complete_copy_and_the_job_resumes_from_its_own()
    {
        JsonObject[] uninterrupted;
        using (var first = Start("steps=20", "save_at=10", "save_on_each_node=true"))
        {
            first.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(first.Ranks.All(r => r.Process.ExitCode == 0), first.Describe());
            uninterrupted = Results("first");
        }

        var onA = Path.Combine(_machineA!.FullName, "checkpoint");
        var onB = Path.Combine(_machineB!.FullName, "checkpoint");
        foreach (var (copy, rank) in new[] { (onA, 0), (onB, 1) })
        {
            foreach (var file in new[] { "accelerator.json", "model.bin", "optimizer.bin", "scheduler.json", "custom_checkpoint_0.bin", $"random_states_{rank}.bin" })
                Assert.IsTrue(File.Exists(Path.Combine(copy, file)), $"machine {rank} holds {file}");
            Assert.IsFalse(File.Exists(Path.Combine(copy, $"random_states_{1 - rank}.bin")), $"machine {rank} holds only its own ranks' RNG states");
        }

        using var second = Start("steps=20", "resume=true", "save_on_each_node=true");
        second.WaitForAll(TimeSpan.FromSeconds(150));
        Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
        var resumed = Results("second");
        for (var rank = 0; rank < 2; rank++)
        {
            Assert.HasCount(10, Losses(resumed[rank]), $"rank {rank} runs the 10 batches after the checkpoint");
            AssertClose(Parameters(uninterrupted[rank]), Parameters(resumed[rank]), 1e-6, $"rank {rank} resumed from its machine's copy");
        }
    }

    [TestMethod]
    public void With_SaveOnEachNode_machines_that_do_share_the_folder_write_one_copy_and_resume_from_it()
    {
        JsonObject[] uninterrupted;
        using (var first = Start(shared: true, "steps=20", "save_at=10", "save_on_each_node=true"))
        {
            first.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(first.Ranks.All(r => r.Process.ExitCode == 0), first.Describe());
            uninterrupted = Results("first");
        }
        var copy = Path.Combine(_machineA!.FullName, "checkpoint");
        CollectionAssert.AreEquivalent(
            new[] { "accelerator.json", "model.bin", "optimizer.bin", "scheduler.json", "custom_checkpoint_0.bin", "random_states_0.bin", "random_states_1.bin" },
            Directory.GetFiles(copy).Select(Path.GetFileName).ToArray(), "one complete copy, with both ranks' RNG states");

        using var second = Start(shared: true, "steps=20", "resume=true", "save_on_each_node=true");
        second.WaitForAll(TimeSpan.FromSeconds(150));
        Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
        var resumed = Results("second");
        for (var rank = 0; rank < 2; rank++)
            AssertClose(Parameters(uninterrupted[rank]), Parameters(resumed[rank]), 1e-6, $"rank {rank} resumed from the shared copy");
    }

    [TestMethod]
    public void A_job_resumed_where_one_machine_lacks_the_checkpoint_fails_on_every_rank_with_a_code_naming_SaveOnEachNode()
    {
        using (var first = Start("steps=4", "save_at=2", "save_on_each_node=true"))
        {
            first.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(first.Ranks.All(r => r.Process.ExitCode == 0), first.Describe());
        }
        Directory.Delete(Path.Combine(_machineB!.FullName, "checkpoint"), recursive: true);

        using var second = Start("steps=4", "resume=true");
        second.WaitForAll(TimeSpan.FromSeconds(150));

        foreach (var rank in second.Ranks)
        {
            Assert.AreNotEqual(0, rank.Process.ExitCode, second.Describe());
            StringAssert.Contains(rank.Output, "ACC2292", second.Describe());
            StringAssert.Contains(rank.Output, "SaveOnEachNode", second.Describe());
        }
    }

    /// <summary>
    /// Rank 0 on machine A, rank 1 on machine B; both use the checkpoint folder under machine A's path,
    /// which machine B sees as its own disk unless <paramref name="shared"/>.
    /// </summary>
    private RankProcesses Start(params string[] run) => Start(shared: false, run);

    private RankProcesses Start(bool shared, params string[] run)
    {
        var job = new RankProcesses();
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        var name = run.Contains("resume=true") ? "second" : "first";
        string[] args = ["dotnet", TrainingJob.WorkerPath, "batch=16", "size=224", "optimizer=adam", .. run,
            "checkpoint=" + Path.Combine(_machineA!.FullName, "checkpoint"), "out=" + Path.Combine(_results!.FullName, name + ".{rank}.json")];
        for (var rank = 0; rank < 2; rank++)
        {
            var environment = RankProcesses.Contract(rank, 2, port, secret);
            environment["LOCAL_RANK"] = "0";
            environment["LOCAL_WORLD_SIZE"] = "1";
            environment["GROUP_RANK"] = rank.ToString();
            // Machine B's disk appears where machine A keeps its checkpoints.
            string[] machine = rank == 0 || shared ? [] :
                ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 $"mount --bind '{_machineB!.FullName}' '{_machineA.FullName}' && exec \"$@\"", "machine-b"];
            job.Start(environment, [.. machine, .. args]);
        }
        return job;
    }

    private JsonObject[] Results(string name) => Enumerable.Range(0, 2)
        .Select(r => JsonNode.Parse(File.ReadAllText(Path.Combine(_results!.FullName, $"{name}.{r}.json")))!.AsObject())
        .ToArray();
}
