using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Accelerate.Runtime.Tests.Distributed;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// A job pre-empted by its scheduler (SIGTERM, or SIGUSR1 as SLURM's <c>--signal=B:USR1@120</c> sends
/// it) saves a checkpoint at the next step boundary on every rank and exits with 75; started again
/// with <c>ResumeFromCheckpoint = "latest"</c> it ends exactly where a run that never stopped ends.
/// The signalled rank stands still after step 6 until the signal comes (the worker's <c>pause_at</c>),
/// so the save happens at a known step whatever the machine's load: the flag travels with step 7's
/// gradient sync, and every rank saves when the loader fetches the batch after it.
/// </summary>
[TestClass]
public sealed class PreemptionTests
{
    private const int SIGUSR1 = 10, SIGTERM = 15;

    // 2 ranks x batch 16 over 224 samples: 7 steps an epoch, so step 6 is mid-epoch. No periodic saves: only the pre-emption saves.
    private static readonly string[] Run = ["batch=16", "steps=18", "size=224", "optimizer=adam", "resume_from=latest"];
    private static readonly Lazy<float[]> Uninterrupted = new(() => Parameters(TrainingJob.Run(2, "batch=16", "steps=18", "size=224", "optimizer=adam")[0]));

    [TestMethod]
    [DataRow(SIGUSR1, 1)]
    [DataRow(SIGTERM, 0)]
    public void A_signal_to_one_rank_makes_every_rank_save_and_exit_and_the_job_started_again_ends_bit_exact(int signal, int signalledRank)
    {
        var project = Directory.CreateTempSubdirectory("accelerate-preempt-");
        try
        {
            string[] args = [.. Run, "project=" + project.FullName];
            using (var first = TrainingJob.Start(2, [.. args, "pause_at=6", $"pause_rank={signalledRank}", "out=" + Path.Combine(project.FullName, "first.{rank}.json")]))
            {
                first.Ranks[signalledRank].WaitForLine("paused for a signal", TimeSpan.FromSeconds(120));
                Assert.AreEqual(0, Kill(first.Ranks[signalledRank].Process.Id, signal));
                first.WaitForAll(TimeSpan.FromSeconds(120));
                foreach (var rank in first.Ranks)
                    Assert.AreEqual(Accelerator.PreemptedExitCode, rank.Process.ExitCode, "every rank saved and exited with 75:\n" + first.Describe());
                StringAssert.Contains(first.Ranks[0].Output, "ACC2276");
                StringAssert.Contains(first.Ranks[0].Output, "after step 7", "the flag travels with step 7's gradient sync; the save follows that step");
            }

            var output = Path.Combine(project.FullName, "second.{rank}.json");
            using var second = TrainingJob.Start(2, [.. args, "out=" + output]);
            second.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
            StringAssert.Contains(second.Ranks[0].Output, "resumed from " + Path.Combine(project.FullName, "checkpoints", "checkpoint_0"));
            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(11, Losses(resumed), $"rank {rank} ran the 11 batches after step 7");
                AssertClose(Uninterrupted.Value, Parameters(resumed), 0, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    [DataRow("launcher")]
    [DataRow("rank")]
    public void Accelerate_launch_reports_a_preemption_and_restarts_or_is_started_again_to_end_bit_exact(string signalled)
    {
        var project = Directory.CreateTempSubdirectory("accelerate-launch-preempt-");
        try
        {
            var output = Path.Combine(project.FullName, "result.{rank}.json");
            // Signalled itself, the launcher forwards the signal and stops (the scheduler requeues the job);
            // with a rank signalled alone, the launcher restarts the group (--max_restarts 1).
            string[] command =
            [
                "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--num_processes", "2", "--max_restarts", signalled == "rank" ? "1" : "0",
                "--main_process_port", RankProcesses.FreePort().ToString(),
                TrainingJob.WorkerPath, .. Run, "project=" + project.FullName, "pause_at=6", "pause_rank=1", "out=" + output,
            ];
            var environment = new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" };
            using (var launch = new RankProcesses())
            {
                var launcher = launch.Start(environment, command);
                launcher.WaitForLine("paused for a signal", TimeSpan.FromSeconds(150));
                var rankPid = int.Parse(Regex.Match(launcher.Output, @"paused for a signal \(pid (\d+)\)").Groups[1].Value);
                Assert.AreEqual(0, Kill(signalled == "launcher" ? launcher.Process.Id : rankPid, SIGUSR1));
                launch.WaitForAll(TimeSpan.FromSeconds(150));
                if (signalled == "launcher")
                {
                    Assert.AreEqual(Accelerator.PreemptedExitCode, launcher.Process.ExitCode, launch.Describe());
                    StringAssert.Contains(launcher.Output, "ACC3060");
                }
                else
                {
                    Assert.AreEqual(0, launcher.Process.ExitCode, launch.Describe());
                    StringAssert.Contains(launcher.Output, "ACC3061");
                    StringAssert.Contains(launcher.Output, "restarting the group (restart 1 of 1)");
                }
                Assert.IsFalse(launcher.Output.Contains("failed", StringComparison.OrdinalIgnoreCase), "a pre-emption is not reported as a failure:\n" + launcher.Output);
            }
            if (signalled == "launcher")
            {
                using var again = new RankProcesses();
                var launcher = again.Start(environment, [.. command[..8], RankProcesses.FreePort().ToString(), .. command[9..]]);
                again.WaitForAll(TimeSpan.FromSeconds(150));
                Assert.AreEqual(0, launcher.Process.ExitCode, again.Describe());
            }

            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(11, Losses(resumed), $"rank {rank} resumed after step 7");
                AssertClose(Uninterrupted.Value, Parameters(resumed), 0, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Survivors_the_launcher_stops_after_a_rank_fails_end_at_once_without_saving_and_the_last_checkpoint_resumes_bit_exact()
    {
        var project = Directory.CreateTempSubdirectory("accelerate-launch-failure-");
        try
        {
            var output = Path.Combine(project.FullName, "result.{rank}.json");
            // Saves after steps 2 and 4. At step 5 rank 1 fails while rank 0 works alone (no collective to notice it):
            // the launcher's SIGTERM must end rank 0 as a stop, not ask it for a pre-emption save it would never reach.
            string[] Command(params string[] extra) =>
            [
                "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--num_processes", "2", "--shutdown_timeout", "90",
                "--main_process_port", RankProcesses.FreePort().ToString(),
                TrainingJob.WorkerPath, .. Run, "project=" + project.FullName, "every=2", "out=" + output, .. extra,
            ];
            var environment = new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" };
            using (var launch = new RankProcesses())
            {
                var launcher = launch.Start(environment, Command("busy_at=5", "busy_rank=0", "crash_at=5", "die_rank=1"));
                launch.WaitForAll(TimeSpan.FromSeconds(150));
                var log = launcher.Output;
                Assert.AreNotEqual(0, launcher.Process.ExitCode, log);
                Assert.AreNotEqual(Accelerator.PreemptedExitCode, launcher.Process.ExitCode, "a failure is no pre-emption:\n" + log);
                StringAssert.Contains(log, "busy alone");
                StringAssert.Contains(log, "Root Cause (first observed failure):");
                StringAssert.Contains(log, "rank 1 fails at batch 5 on purpose");
                StringAssert.Contains(log, "Stopped by the launcher: rank 0");
                Assert.DoesNotContain("SIGKILL", log, "rank 0 ended on the launcher's SIGTERM instead of waiting for SIGKILL");
                Assert.DoesNotContain("ACC2276", log, "no pre-emption save");
            }
            CollectionAssert.AreEquivalent(new[] { "checkpoint_0", "checkpoint_1" },
                Directory.GetDirectories(Path.Combine(project.FullName, "checkpoints")).Select(Path.GetFileName).ToArray(), "the saves after steps 2 and 4, nothing half-written");

            using (var again = new RankProcesses())
            {
                var launcher = again.Start(environment, Command());
                again.WaitForAll(TimeSpan.FromSeconds(150));
                Assert.AreEqual(0, launcher.Process.ExitCode, again.Describe());
                StringAssert.Contains(launcher.Output, "resumed from " + Path.Combine(project.FullName, "checkpoints", "checkpoint_1"));
            }
            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(14, Losses(resumed), $"rank {rank} resumed after step 4");
                AssertClose(Uninterrupted.Value, Parameters(resumed), 0, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
