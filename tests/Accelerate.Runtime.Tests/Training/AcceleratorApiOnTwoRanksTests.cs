using System.Text.Json.Nodes;

namespace Accelerate.Tests.Training;

/// <summary>The helpers of <see cref="Accelerator"/> across two real ranks, from one job (the ranks start once).</summary>
[TestClass]
public sealed class AcceleratorApiOnTwoRanksTests
{
    private static JsonObject[] _ranks = null!;

    [ClassInitialize]
    public static void StartJob(TestContext context) => _ranks = TrainingJob.Run(2, "scenario=api");

    private static string[] Strings(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<string>()).ToArray();

    [TestMethod]
    public void Each_per_process_runner_runs_on_its_rank_only()
    {
        CollectionAssert.AreEqual(new[] { "main", "local_main" }, Strings(_ranks[0]["ran"]), "rank 0");
        CollectionAssert.AreEqual(new[] { "last", "process_1", "local_process_1" }, Strings(_ranks[1]["ran"]), "rank 1");
    }

    [TestMethod]
    public void A_runner_with_a_result_returns_it_where_it_ran_and_default_elsewhere()
    {
        Assert.AreEqual("from rank 0", _ranks[0]["main_result"]!.GetValue<string>());
        Assert.IsNull(_ranks[1]["main_result"]);
        Assert.AreEqual(0, _ranks[0]["last_result"]!.GetValue<int>(), "default(int) on rank 0");
        Assert.AreEqual(101, _ranks[1]["last_result"]!.GetValue<int>());
    }

    [TestMethod]
    public void Two_processes_on_cpus_are_multi_cpu()
    {
        foreach (var rank in _ranks) Assert.AreEqual("MultiCpu", rank["distributed_type"]!.GetValue<string>());
    }
}
