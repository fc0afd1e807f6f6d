using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Accelerate.Runtime.Tests.Distributed;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// What a save guarantees when it is cut short. A rank SIGKILLed at each moment of a save (through
/// the runtime's test-only kill point, <c>ACCELERATE_TEST_KILL_DURING_SAVE=phase@save</c>), then the
/// job started again: it must resume from the newest complete checkpoint and end where a run that
/// never stopped ends. And, traced with strace, the order of the system calls that make a save
/// durable (what survives a power loss, which no process kill can show).
/// </summary>
[TestClass]
public sealed class CheckpointCrashTests
{
    // 2 ranks x batch 16 over 224 samples: 7 steps an epoch; saves after steps 4, 8, 12 and 16, the third one is killed.
    private static readonly string[] Run = ["batch=16", "steps=18", "size=224", "optimizer=adam", "every=4", "limit=1"];
    private static readonly Lazy<float[]> Uninterrupted = new(() => Parameters(InProcess("batch=32", "steps=18", "size=224", "optimizer=adam")));

    [TestMethod]
    [DataRow("before-files", 0, false, 8)]
    [DataRow("between-files", 0, false, 8)]
    [DataRow("between-files", 1, false, 8)]
    [DataRow("before-rename", 0, false, 8)]
    [DataRow("before-delete", 0, false, 12)]
    [DataRow("before-rename", 0, true, 8)]
    [DataRow("between-renames", 0, true, 12)]
    [DataRow("before-delete", 0, true, 12)]
    public void A_rank_killed_during_a_save_resumes_from_the_newest_complete_checkpoint_and_reaches_the_same_parameters(string phase, int killedRank, bool oneFolder, int resumedStep)
    {
        var project = Directory.CreateTempSubdirectory("accelerate-crash-");
        try
        {
            string[] args = [.. Run, oneFolder ? "save_to=" + Path.Combine(project.FullName, "state") : "project=" + project.FullName];
            using (var first = TrainingJob.Start(2, [.. args, "out=" + Path.Combine(project.FullName, "first.{rank}.json")],
                (rank, environment) => environment["ACCELERATE_TEST_KILL_DURING_SAVE"] = rank == killedRank ? phase + "@3" : null))
            {
                first.WaitForAll(TimeSpan.FromSeconds(150));
                Assert.AreEqual(128 + 9, first.Ranks[killedRank].Process.ExitCode, $"rank {killedRank} was killed (SIGKILL) at {phase}:\n" + first.Describe());
                Assert.AreNotEqual(0, first.Ranks[1 - killedRank].Process.ExitCode, "its peer fails:\n" + first.Describe());
            }

            var output = Path.Combine(project.FullName, "second.{rank}.json");
            using var second = TrainingJob.Start(2, [.. args, "out=" + output], (_, environment) => environment["TORCHELASTIC_RESTART_COUNT"] = "1");
            second.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(18 - resumedStep, Losses(resumed), $"rank {rank} resumed after step {resumedStep}:\n" + second.Describe());
                AssertClose(Uninterrupted.Value, Parameters(resumed), 1e-5, $"rank {rank}");
            }
            var folders = Directory.GetDirectories(oneFolder ? project.FullName : Path.Combine(project.FullName, "checkpoints")).Select(Path.GetFileName).ToList();
            CollectionAssert.AreEqual(new[] { oneFolder ? "state" : "checkpoint_3" }, folders, "after the next saves only the newest folder is left: no staging or replaced copy, TotalLimit = 1 kept");
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Every_file_and_every_rename_of_a_save_reaches_the_disk_before_any_older_copy_is_deleted()
    {
        if (!File.Exists("/usr/bin/strace"))
            Assert.Inconclusive("strace is not installed; eng/install-prerequisites.sh installs it.");
        var project = Directory.CreateTempSubdirectory("accelerate-durable-");
        try
        {
            var trace = Path.Combine(project.FullName, "trace.log");
            var folder = Path.Combine(project.FullName, "state");
            var automatic = Path.Combine(project.FullName, "run");
            using var job = new RankProcesses();
            var worker = job.Start(new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" },
            [
                "strace", "-f", "-qq", "-y", "--seccomp-bpf", "-e", "signal=none", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,rmdir", "-o", trace,
                "dotnet", TrainingJob.WorkerPath, "scenario=suite", "out=" + Path.Combine(project.FullName, "result.json"),
                TrainingJob.Suite(
                    ["batch=32", "size=96", "steps=8", "every=4", "save_to=" + folder],
                    ["batch=32", "size=96", "steps=12", "every=4", "limit=1", "project=" + automatic]),
            ]);
            job.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.AreEqual(0, worker.Process.ExitCode, job.Describe());

            var files = Directory.GetFiles(folder).Select(f => Path.GetFileName(f)!).ToList();
            CollectionAssert.IsSubsetOf(new[] { "model.bin", "optimizer.bin", "scheduler.json", "random_states_0.bin", "custom_checkpoint_0.bin", "accelerator.json" }, files);
            var events = File.ReadAllLines(trace).Select(SystemCall.Parse).OfType<SystemCall>().ToList();
            var synced = new HashSet<string>();
            string? unsyncedRename = null;
            var renamed = new List<string>();
            foreach (var call in events)
            {
                switch (call.Kind)
                {
                    case "fsync":
                        synced.Add(call.Path);
                        if (call.Path == unsyncedRename) unsyncedRename = null;
                        break;
                    case "rename":
                        Assert.IsNull(unsyncedRename, $"{unsyncedRename} was not flushed after a rename before renaming {call.Path}");
                        if (call.Path.Contains(".saving-"))
                        {
                            foreach (var file in files)
                                Assert.Contains(Path.Combine(call.Path, file), synced, $"{file} is flushed to the disk before its folder is renamed into place");
                            Assert.Contains(call.Path, synced, "the new folder's entries are flushed before it is renamed");
                        }
                        unsyncedRename = Path.GetDirectoryName(call.To);
                        renamed.Add(call.To!);
                        break;
                    case "delete" when call.Path.StartsWith(project.FullName):
                        Assert.IsNull(unsyncedRename, $"{call.Path} is deleted before the rename in {unsyncedRename} reached the disk");
                        if (Regex.Match(call.Path, @"/checkpoint_(\d+)(/|$)") is { Success: true } pruned)
                            Assert.IsTrue(renamed.Any(r => Regex.Match(r, @"/checkpoint_(\d+)$") is { Success: true } n && long.Parse(n.Groups[1].Value) > long.Parse(pruned.Groups[1].Value)),
                                $"{call.Path} is pruned only after a newer checkpoint is in place");
                        break;
                }
            }
            Assert.AreEqual(2 + 3, events.Count(e => e.Kind == "rename" && e.Path.Contains(".saving-")), "every save was renamed into place:\n" + string.Join("\n", renamed));
            CollectionAssert.AreEqual(new[] { "checkpoint_2" }, Directory.GetDirectories(Path.Combine(automatic, "checkpoints")).Select(Path.GetFileName).ToList());
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    /// <summary>One line of <c>strace -y</c> output: a flush, a rename or a deletion, with full paths.</summary>
    private sealed record SystemCall(string Kind, string Path, string? To = null)
    {
        public static SystemCall? Parse(string line)
        {
            if (Regex.Match(line, @"\bf(?:data)?sync\(\d+<([^>]+)>") is { Success: true } sync) return new("fsync", sync.Groups[1].Value);
            if (Regex.Match(line, @"\brename(?:at2?)?\((?:[^,""]+, )?""([^""]+)"", (?:[^,""]+, )?""([^""]+)""") is { Success: true } rename)
                return new("rename", rename.Groups[1].Value, rename.Groups[2].Value);
            if (Regex.Match(line, @"\bunlinkat\(\d+<([^>]+)>, ""([^""]+)""") is { Success: true } relative)
                return new("delete", System.IO.Path.Combine(relative.Groups[1].Value, relative.Groups[2].Value));
            if (Regex.Match(line, @"\b(?:unlink|rmdir|unlinkat)\((?:AT_FDCWD, )?""([^""]+)""") is { Success: true } delete) return new("delete", delete.Groups[1].Value);
            return null;
        }
    }
}
