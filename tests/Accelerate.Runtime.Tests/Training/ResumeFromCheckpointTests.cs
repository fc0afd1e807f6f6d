using System.Text.Json.Nodes;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// <c>ResumeFromCheckpoint = "latest"</c> (or <c>ACCELERATE_RESUME_FROM_CHECKPOINT</c>): a job started
/// again after it was killed goes on from its newest checkpoint with no resume code in the loop.
/// </summary>
[TestClass]
public sealed class ResumeFromCheckpointTests
{
    [TestMethod]
    [DataRow(1, "option")]
    [DataRow(2, "option")]
    [DataRow(2, "environment")]
    public void A_job_killed_mid_run_and_started_again_with_resume_latest_reaches_the_parameters_of_an_uninterrupted_run(int worldSize, string how)
    {
        var project = Directory.CreateTempSubdirectory("accelerate-resume-");
        try
        {
            // batch 32 per step in total: 7 steps an epoch over 224 samples; saves after steps 4 and 8, killed after step 10.
            string[] run = ["batch=" + 32 / worldSize, "steps=18", "size=224", "optimizer=adam", "every=4", "project=" + project.FullName];
            string[] resume = how == "option" ? ["resume_from=latest"] : [];
            void Adjust(int rank, Dictionary<string, string?> environment) =>
                environment["ACCELERATE_RESUME_FROM_CHECKPOINT"] = how == "environment" ? "latest" : null;
            using (var first = TrainingJob.Start(worldSize, [.. run, .. resume, "die_at=10", $"die_rank={worldSize - 1}", "out=" + Path.Combine(project.FullName, "first.{rank}.json")], Adjust))
            {
                // Reaching batch 10 shows that "latest" with nothing to load (a first run) starts afresh instead of failing.
                first.Ranks[worldSize - 1].WaitForLine("waiting to be killed", TimeSpan.FromSeconds(120));
                foreach (var rank in first.Ranks) rank.Process.Kill(entireProcessTree: true);
                first.WaitForAll(TimeSpan.FromSeconds(60));
            }

            var output = Path.Combine(project.FullName, "second.{rank}.json");
            using var second = TrainingJob.Start(worldSize, [.. run, .. resume, "out=" + output], Adjust);
            second.WaitForAll(TimeSpan.FromSeconds(150));
            Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
            StringAssert.Contains(second.Ranks[0].Output, "resumed from " + Path.Combine(project.FullName, "checkpoints", "checkpoint_1"));
            var reference = Parameters(InProcess("batch=32", "steps=18", "size=224", "optimizer=adam"));
            for (var rank = 0; rank < worldSize; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(10, Losses(resumed), $"rank {rank} ran the 10 batches after the checkpoint of step 8");
                AssertClose(reference, Parameters(resumed), 1e-5, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void A_checkpoint_folder_to_resume_from_that_does_not_exist_is_an_error_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "accelerate-no-such-checkpoint-" + Guid.NewGuid().ToString("N"));

        var error = Assert.ThrowsExactly<AccelerateException>(() => InProcess("steps=2", "resume_from=" + missing));

        Assert.AreEqual("ACC2275", error.Code, error.Message);
        StringAssert.Contains(error.Message, missing);
    }
}
