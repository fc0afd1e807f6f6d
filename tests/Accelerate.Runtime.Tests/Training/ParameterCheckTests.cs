using System.Text.Json.Nodes;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// AcceleratorOptions.CheckParameterSyncEvery / ACCELERATE_CHECK_PARAMETERS_EVERY on two real ranks: the worker's
/// "drift" scenario trains 12 steps and, after step 3, rank 1 changes fc2.bias behind the Accelerator's back.
/// </summary>
[TestClass]
public sealed class ParameterCheckTests
{
    [TestMethod]
    [DataRow("option")]
    [DataRow("environment")]
    public void A_parameter_changed_on_one_rank_fails_every_rank_naming_it_the_step_and_the_values(string setBy)
    {
        var ranks = Run(setBy == "option" ? ["every=2"] : [], setBy == "environment" ? "2" : null, "tamper=3");

        foreach (var rank in ranks)
        {
            Assert.AreEqual("ACC2114", rank["error_code"]?.GetValue<string>(), rank.ToJsonString());
            var message = rank["error"]!.GetValue<string>();
            StringAssert.Contains(message, "after 4 optimizer steps", message);
            StringAssert.Contains(message, "'fc2.bias' is the first that differs", message);
            StringAssert.Matches(message, new(@"rank 0: sum -?[0-9.E-]+, weighted sum -?[0-9.E-]+, rank 1: sum"), message);
            Assert.AreEqual(4, rank["steps"]!.GetValue<long>(), "checked at the first check after the change");
        }
    }

    [TestMethod]
    public void Ranks_trained_alike_pass_every_check_and_without_the_check_the_change_goes_unnoticed()
    {
        var checkedRanks = Run(["every=1"], null);
        var uncheckedRanks = Run([], null, "tamper=3");

        foreach (var rank in checkedRanks)
        {
            Assert.IsNull(rank["error_code"], rank.ToJsonString());
            Assert.AreEqual(12, rank["steps"]!.GetValue<long>());
            Assert.AreEqual(1, rank["check_every"]!.GetValue<int>());
        }
        foreach (var rank in uncheckedRanks)
        {
            Assert.IsNull(rank["error_code"], rank.ToJsonString());
            Assert.AreEqual(0, rank["check_every"]!.GetValue<int>(), "off unless asked for");
        }
    }

    private static JsonObject[] Run(string[] options, string? environmentValue, params string[] more)
    {
        var directory = Directory.CreateTempSubdirectory("accelerate-drift-");
        try
        {
            var output = Path.Combine(directory.FullName, "result.{rank}.json");
            using var job = TrainingJob.Start(2, ["scenario=drift", .. options, .. more, "out=" + output], (_, e) =>
            {
                if (environmentValue is not null) e["ACCELERATE_CHECK_PARAMETERS_EVERY"] = environmentValue;
            });
            job.WaitForAll(TimeSpan.FromSeconds(150));
            foreach (var rank in job.Ranks) Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            return [.. Enumerable.Range(0, 2).Select(r => JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", r.ToString())))!.AsObject())];
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
