using System.Text.Json.Nodes;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>The helpers of <see cref="Accelerator"/> across two real ranks, from one job (the ranks start once).</summary>
[TestClass]
public sealed class AcceleratorApiOnTwoRanksTests
{
    private static JsonObject[] _ranks = null!;
    private static DirectoryInfo _directory = null!;

    [ClassInitialize]
    public static void StartJob(TestContext context)
    {
        _directory = Directory.CreateTempSubdirectory("accelerate-api-");
        _ranks = TrainingJob.Run(2, "scenario=api", "dir=" + _directory.FullName);
    }

    [ClassCleanup]
    public static void RemoveDirectory() => _directory.Delete(recursive: true);

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

    [TestMethod]
    public void SkipFirstBatches_skips_the_first_batches_of_each_ranks_share()
    {
        CollectionAssert.AreEqual(new long[] { 4, 5, 8, 9 }, Longs(_ranks[0]["skipped_read"]), "rank 0 reads batches 0, 2, 4 and skips its first");
        CollectionAssert.AreEqual(new long[] { 6, 7 }, Longs(_ranks[1]["skipped_read"])[..2], "rank 1 reads batches 1, 3 (then a padded one) and skips its first");
    }

    [TestMethod]
    public void Save_writes_once_on_the_main_process()
    {
        Assert.IsTrue(_ranks[0]["saved_here"]!.GetValue<bool>());
        Assert.IsFalse(_ranks[1]["saved_here"]!.GetValue<bool>());
        StringAssert.Contains(File.ReadAllText(Path.Combine(_directory.FullName, "saved.json")), "\"Index\":0");
    }

    [TestMethod]
    public void The_state_hooks_run_on_every_rank_with_the_models_and_the_folder()
    {
        foreach (var rank in _ranks)
            CollectionAssert.AreEqual(new[] { "save 1 hooked", "load 1 hooked" }, Strings(rank["hooks"]), $"rank {rank["rank"]}");
    }

    [TestMethod]
    public void SyncEachBatch_averages_after_every_batch_and_reaches_the_parameters_of_syncing_at_the_step()
    {
        foreach (var rank in _ranks)
        {
            var eachBatch = rank["sync_each_batch"]!;
            var atStep = rank["sync_at_step"]!;
            Assert.IsTrue(eachBatch["synced_after_first_batch"]!.GetValue<bool>(), "SyncEachBatch averaged on the accumulation step");
            Assert.IsFalse(atStep["synced_after_first_batch"]!.GetValue<bool>(), "without it nothing is averaged before the step");
            TrainingRuns.AssertClose(Floats(atStep["parameters"]), Floats(eachBatch["parameters"]), 1e-5, $"rank {rank["rank"]} parameters");
        }
        TrainingRuns.AssertClose(Floats(_ranks[0]["sync_each_batch"]!["parameters"]), Floats(_ranks[1]["sync_each_batch"]!["parameters"]), 0, "both ranks hold the same parameters");
    }
}
