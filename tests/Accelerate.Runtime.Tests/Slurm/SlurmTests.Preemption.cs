using System.Text.RegularExpressions;
using Accelerate.Runtime.Tests.Training;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Slurm;

public sealed partial class SlurmTests
{
    // 2 ranks x batch 16 over 224 samples: 7 steps an epoch, so step 6 is mid-epoch. No periodic saves: only the pre-emption saves.
    private static readonly string[] PreemptedRun = ["batch=16", "steps=18", "size=224", "optimizer=adam", "resume_from=latest"];

    /// <summary>
    /// A batch job pre-empted as SLURM pre-empts it: <c>#SBATCH --signal=USR1@90</c> sends SIGUSR1 to every
    /// task of every step (not to the batch shell) before the time limit, which <c>scancel --signal=USR1 JOB</c>
    /// does at once. Every rank saves a checkpoint and exits with 75, the script requeues the job on 75
    /// (<c>#SBATCH --requeue</c>), and the job's second run goes on from that checkpoint to the end.
    /// Rank 1 stands still after step 6 until the signal comes (the worker's <c>pause_at</c>), so the
    /// save happens after step 7 whatever the machine's load.
    /// </summary>
    [TestMethod]
    [DataRow("launcher")]
    [DataRow("srun")]
    public void A_job_signalled_with_USR1_saves_on_every_rank_is_requeued_and_its_second_run_goes_on_from_the_checkpoint(string ranksStartedBy)
    {
        var output = Path.Combine(_folder, "result.{rank}.json");
        string[] worker = [TrainingJob.WorkerPath, .. PreemptedRun, "project=" + Path.Combine(_folder, "project"), "pause_at=6", "pause_rank=1", "out=" + output];
        // As docs/clusters.md has it: one launcher per node, or srun starting every rank.
        var step = ranksStartedBy == "launcher"
            ? $"srun --ntasks-per-node=1 --kill-on-bad-exit=1 dotnet {TrainingJob.Metadata("AccelerateCli")} launch --num_processes 2 {string.Join(' ', worker)}"
            : $"srun --ntasks-per-node=2 --kill-on-bad-exit=1 dotnet {string.Join(' ', worker)}";
        var script = Path.Combine(_folder, "train.sbatch");
        File.WriteAllText(script, $"""
            #!/bin/bash
            #SBATCH --job-name=train
            #SBATCH --nodes=1
            #SBATCH --ntasks-per-node={(ranksStartedBy == "launcher" ? 1 : 2)}
            #SBATCH --signal=USR1@90
            #SBATCH --requeue
            #SBATCH --open-mode=append
            #SBATCH --output={_folder}/%x-%j.out
            {step}
            status=$?
            echo "run {"${SLURM_RESTART_COUNT:-0}"} of job $SLURM_JOB_ID: the step exited with $status"
            [ $status -eq 75 ] && scontrol requeue "$SLURM_JOB_ID"
            exit $status

            """);

        var (submitted, log) = _cluster.Run(JobPatience, "sbatch", "--parsable", script);
        Assert.AreEqual(0, submitted, log);
        var jobId = log.Trim().Split(';')[0];
        var jobOutput = Path.Combine(_folder, $"train-{jobId}.out");
        WaitForFileLine(jobOutput, "paused for a signal", JobPatience);

        var (signalled, signalLog) = _cluster.Run(TimeSpan.FromSeconds(30), "scancel", "--signal=USR1", jobId);
        Assert.AreEqual(0, signalled, signalLog);
        var state = WaitForJobEnd(jobId, JobPatience);

        var job = File.ReadAllText(jobOutput);
        Assert.AreEqual("COMPLETED", state, job);
        StringAssert.Contains(job, "run 0 of job " + jobId + ": the step exited with 75", "every rank saved and exited with 75, and srun with them");
        StringAssert.Matches(job, new Regex(@"ACC2276: .*after step 7"), "the flag travels with step 7's gradient sync; the save follows that step");
        if (ranksStartedBy == "launcher") StringAssert.Contains(job, "ACC3060", "the launcher reports the pre-emption, not a failure");
        StringAssert.Contains(job, "run 1 of job " + jobId + ": the step exited with 0", "the requeued job ran again and finished");
        StringAssert.Contains(job, "resumed from " + Path.Combine(_folder, "project", "checkpoints", "checkpoint_0"));
        StringAssert.DoesNotMatch(job, new Regex("Root Cause|failed", RegexOptions.IgnoreCase), "a pre-emption is not reported as a failure");
        var reference = InProcess(["batch=32", "steps=18", "size=224", "optimizer=adam"]);
        foreach (var resumed in Records(output, 2))
        {
            Assert.HasCount(11, Losses(resumed), $"rank {resumed["rank"]} of the second run trained the 11 batches after step 7");
            AssertClose(Parameters(reference), Parameters(resumed), 1e-5, $"rank {resumed["rank"]} after the requeued run");
        }
    }

    /// <summary>Waits until <paramref name="path"/> (the job's output, written by the job) holds a line containing <paramref name="text"/>.</summary>
    private static void WaitForFileLine(string path, string text, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (!(File.Exists(path) && File.ReadAllText(path).Contains(text, StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"No line containing '{text}' in {path} within {patience.TotalSeconds} s:\n{(File.Exists(path) ? File.ReadAllText(path) : "(no file)")}\n{_cluster.Logs()}");
            Thread.Sleep(100);
        }
    }

    /// <summary>Waits until the job (through any requeue) reaches a final state, and returns it (COMPLETED, FAILED...).</summary>
    private static string WaitForJobEnd(string jobId, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        var show = "";
        while (DateTime.UtcNow < deadline)
        {
            show = _cluster.Run(TimeSpan.FromSeconds(30), "scontrol", "show", "job", "--oneliner", jobId).Output;
            var state = JobState().Match(show).Groups[1].Value;
            if (state is "COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL" or "OUT_OF_MEMORY" or "BOOT_FAIL" or "DEADLINE") return state;
            Thread.Sleep(200);
        }
        Assert.Fail($"Job {jobId} did not end within {patience.TotalSeconds} s: {show}\n{_cluster.Logs()}");
        return "";
    }

    [GeneratedRegex(@"JobState=(\w+)")]
    private static partial Regex JobState();
}
