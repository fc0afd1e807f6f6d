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

    private static float[] Floats(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    private static long[] Longs(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<long>()).ToArray();

    [TestMethod]
    public void Gather_of_a_dictionary_gathers_every_tensor_in_it_in_rank_order()
    {
        foreach (var rank in _ranks)
        {
            CollectionAssert.AreEqual(new long[] { 4, 3 }, Longs(rank["gathered_logits_shape"]));
            CollectionAssert.AreEqual(new float[] { 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2 }, Floats(rank["gathered_logits"]));
            CollectionAssert.AreEqual(new long[] { 0, 10 }, Longs(rank["gathered_labels"]));
        }
    }

    [TestMethod]
    public void Reduce_and_PadAcrossProcesses_act_on_every_tensor_of_a_structure()
    {
        foreach (var rank in _ranks)
        {
            Assert.AreEqual(3f, rank["reduced_sum"]!.GetValue<float>());
            Assert.AreEqual(2f, rank["reduced_max"]!.GetValue<float>());
            CollectionAssert.AreEqual(new long[] { 2, 2 }, Longs(rank["padded_rows_shape"]), "each tensor padded to its own largest size");
        }
        CollectionAssert.AreEqual(new float[] { 1, 1, 1 }, Floats(_ranks[0]["padded_cols"]));
        CollectionAssert.AreEqual(new float[] { 1, 1, -1 }, Floats(_ranks[1]["padded_cols"]), "padded along dim 1 with the pad value");
    }

    [TestMethod]
    public void GatherObject_gives_every_rank_each_ranks_object_in_rank_order()
    {
        foreach (var rank in _ranks)
            CollectionAssert.AreEqual(new[] { "0/rank 0/0", "1/rank 1/0.5" }, Strings(rank["objects"]));
    }

    [TestMethod]
    public void GatherForMetrics_of_each_batch_tuple_yields_every_sample_once()
    {
        foreach (var rank in _ranks)
        {
            CollectionAssert.AreEquivalent(new float[] { 0, 1, 2, 3, 4 }, Floats(rank["metrics_inputs"]), "inputs, the padded duplicate dropped");
            CollectionAssert.AreEquivalent(new long[] { 0, 1, 2, 3, 4 }, Longs(rank["metrics_targets"]), "targets");
            CollectionAssert.AreEquivalent(new long[] { 0, 1, 2, 3, 4 }, Longs(rank["metrics_objects"]), "an array of numbers, gathered as objects");
        }
    }
}
