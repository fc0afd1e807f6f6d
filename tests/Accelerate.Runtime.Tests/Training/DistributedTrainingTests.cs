using System.Text.Json.Nodes;
using TorchSharp;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// Real ranks (TrainingWorker processes meeting over TCP) against one process. One job per world
/// size runs many checks, so that processes start once.
/// </summary>
[TestClass]
public sealed class DistributedTrainingTests
{
    private static readonly string[][] Equivalence =
    [
        ["model=mlp", "optimizer=sgd"],
        ["model=mlp", "optimizer=adam"],
        ["model=cnn", "optimizer=sgd"],
        ["model=cnn", "optimizer=adam"],
    ];

    private static readonly string[] AccumulationPrecisions = ["no", "bf16", "fp16"];
    private static readonly string[] AccumulationRun =
        ["optimizer=adam", "batch=8", "accumulation=2", "steps=12", "size=224", "accumulate_scope=true", "clip=0.5", "loss_scale=1024"];
    private const int SplitCheckpointRun = 17;
    private const int FirstAccumulationRun = 18;
    private static readonly string[][] MixedPrecisionLines =
    [
        ["precision=bf16"],
        ["precision=fp16"],
        ["precision=bf16", "inputs=raw", "invoke=call"],
        ["precision=fp16", "inputs=raw", "invoke=call"],
    ];
    private const int FirstLineRun = 24;
    private const int ChainRun = 28;
    private const int TrackersRun = 29;
    private const int DdpRun = 30;
    private const int ScalerRun = 31;
    internal static readonly string[] ScalerArgs =
        ["steps=6", "size=96", "precision=fp16", "loss_scale=1024", "growth_factor=3", "backoff_factor=0.25", "growth_interval=2", "huge_at=3"];

    private static JsonObject[]? _twoRanks;
    private static JsonObject[]? _threeRanks;
    private static string? _checkpoints;

    [ClassInitialize]
    public static void StartJobs(TestContext context)
    {
        _checkpoints = Directory.CreateTempSubdirectory("accelerate-checkpoint-").FullName;
        var two = Equivalence.Select(e => e.Concat(["batch=16", "steps=20", "size=224"]).ToArray()).ToList();
        two.Add(["scenario=data", "size=23", "batch=3", "epochs=2"]);
        two.Add(["batch=32", "split=true", "steps=20", "size=224", "optimizer=adam"]);
        two.Add(["batch=16", "steps=20", "size=224", "optimizer=adam", "save_at=10", "checkpoint=" + Path.Combine(_checkpoints, "two")]);
        two.Add(["batch=16", "steps=20", "size=224", "optimizer=adam", "resume=true", "checkpoint=" + Path.Combine(_checkpoints, "two")]);
        two.Add(["batch=16", "steps=30", "size=224", "optimizer=adam", "precision=bf16"]);
        two.Add(["scenario=ops", "dir=" + _checkpoints]);
        two.Add(["model=cnn", "steps=0", "rank_seed=true"]);
        two.Add(["batch=16", "steps=3", "size=224", "gamma=0.5"]);
        two.Add(["batch=8", "accumulation=2", "steps=40", "size=224", "optimizer=adam"]);
        two.Add(["batch=16", "steps=20", "size=224", "precision=fp16", "loss_scale=1024", "inject_inf_at=4"]);
        two.Add([.. Equivalence[1], "batch=16", "steps=20", "size=224", "dispose_scope=true"]);
        two.Add([.. Equivalence[1], "batch=16", "steps=20", "size=224", "dispose_scope=true", "overlap=false"]);
        two.Add(["model=wide", "optimizer=sgd", "batch=16", "steps=4", "size=128"]);
        two.Add(["batch=32", "split=true", "steps=20", "size=224", "optimizer=adam", "save_at=10", "checkpoint=" + Path.Combine(_checkpoints, "split")]);
        foreach (var precision in AccumulationPrecisions)
        {
            two.Add([.. AccumulationRun, "precision=" + precision]);
            two.Add([.. AccumulationRun, "precision=" + precision, "dispose_scope=true"]);
        }
        foreach (var line in MixedPrecisionLines) two.Add(["scenario=line", .. line]);
        two.Add(["model=chain", "optimizer=sgd", "batch=16", "steps=3", "size=96"]);
        two.Add(["scenario=trackers", "dir=" + _checkpoints]);
        two.Add(["scenario=ddp"]);
        two.Add([.. ScalerArgs, "batch=16"]);
        _twoRanks = TrainingJob.Run(2, "scenario=suite", TrainingJob.Suite(two.ToArray()));

        var three = new List<string[]>
        {
            new[] { "model=mlp", "optimizer=adam", "batch=16", "steps=20", "size=240" },
            new[] { "model=cnn", "optimizer=sgd", "batch=16", "steps=20", "size=240" },
            new[] { "scenario=data", "size=31", "batch=4", "epochs=2" },
        };
        _threeRanks = TrainingJob.Run(3, "scenario=suite", TrainingJob.Suite(three.ToArray()));
    }

    [ClassCleanup]
    public static void RemoveCheckpoints()
    {
        if (_checkpoints is not null && Directory.Exists(_checkpoints)) Directory.Delete(_checkpoints, recursive: true);
    }

    [TestMethod]
    [DataRow(0, "mlp", "sgd")]
    [DataRow(1, "mlp", "adam")]
    [DataRow(2, "cnn", "sgd")]
    [DataRow(3, "cnn", "adam")]
    public void Two_ranks_with_batch_16_reach_the_parameters_of_one_rank_with_batch_32(int run, string model, string optimizer)
    {
        var reference = InProcess("model=" + model, "optimizer=" + optimizer, "batch=32", "steps=20", "size=224");

        foreach (var rank in _twoRanks!)
            AssertClose(Parameters(reference), Parameters(TrainingJob.RunOf(rank, run)), 1e-5, $"rank {rank["rank"]} {model}/{optimizer}");
    }

    [TestMethod]
    public void Gradients_large_enough_to_be_reduced_in_place_reach_the_parameters_of_one_rank_with_batch_32()
    {
        // A 1024x1024 layer's gradient (4 MiB) is all-reduced where it lies instead of through a flat bucket.
        var reference = InProcess("model=wide", "optimizer=sgd", "batch=32", "steps=4", "size=128");

        foreach (var rank in _twoRanks!)
            AssertClose(Parameters(reference), Parameters(TrainingJob.RunOf(rank, 16)), 1e-5, $"rank {rank["rank"]} wide/sgd");
    }

    [TestMethod]
    public void A_loop_that_frees_each_step_in_a_dispose_scope_trains_as_one_that_does_not()
    {
        var plain = _twoRanks!.Select(rank => Parameters(TrainingJob.RunOf(rank, 1))).ToList();

        for (var i = 0; i < plain.Count; i++)
        {
            AssertClose(plain[i], Parameters(TrainingJob.RunOf(_twoRanks![i], 14)), 1e-6, $"rank {i} with a dispose scope per step");
            AssertClose(plain[i], Parameters(TrainingJob.RunOf(_twoRanks![i], 15)), 1e-6, $"rank {i} with a dispose scope per step, buckets reduced after backward");
        }
    }

    [TestMethod]
    [DataRow(0, "no")]
    [DataRow(1, "bf16")]
    [DataRow(2, "fp16")]
    public void Accumulation_with_a_dispose_scope_per_step_and_clipping_trains_as_without_one(int index, string precision)
    {
        var reference = InProcess(AccumulationRun.Select(a => a == "batch=8" ? "batch=16" : a).ToArray());

        foreach (var rank in _twoRanks!)
        {
            var plain = TrainingJob.RunOf(rank, FirstAccumulationRun + 2 * index);
            var scoped = TrainingJob.RunOf(rank, FirstAccumulationRun + 2 * index + 1);
            Assert.AreEqual(6L, scoped["optimizer_steps"]!.GetValue<long>(), $"rank {rank["rank"]} {precision}");
            AssertClose(Parameters(plain), Parameters(scoped), 0, $"rank {rank["rank"]} {precision}: with and without a dispose scope per step");
            Assert.HasCount(6, Doubles(scoped["clipped_norms"]!));
            if (precision == "no") AssertClose(Parameters(reference), Parameters(scoped), 1e-5, $"rank {rank["rank"]}: two ranks of 8 vs one of 16");
        }
        var last = FirstAccumulationRun + 2 * index + 1;
        AssertClose(Parameters(TrainingJob.RunOf(_twoRanks[0], last)), Parameters(TrainingJob.RunOf(_twoRanks[1], last)), 0, $"{precision}: the ranks stay identical");
    }

    [TestMethod]
    [DataRow(0, "BFloat16")]
    [DataRow(1, "Float16")]
    [DataRow(2, "Float32")]
    [DataRow(3, "Float32")]
    public void The_template_loop_over_hand_made_tensors_fits_the_line_under_mixed_precision_on_two_ranks(int index, string outputDtype)
    {
        foreach (var rank in _twoRanks!)
        {
            var run = TrainingJob.RunOf(rank, FirstLineRun + index);
            Assert.AreEqual(outputDtype, run["output_dtype"]!.GetValue<string>(), $"rank {rank["rank"]}");
            MixedPrecisionTests.AssertFitsTheLine(run);
        }
        AssertClose(Parameters(TrainingJob.RunOf(_twoRanks[0], FirstLineRun + index)), Parameters(TrainingJob.RunOf(_twoRanks[1], FirstLineRun + index)), 0, "the ranks stay identical");
    }

    [TestMethod]
    [DataRow(ChainRun, "chain", 3, 10)]
    [DataRow(2, "cnn", 20, 2)]
    public void Gradients_of_every_layer_but_the_first_are_reduced_while_backward_runs(int run, string model, int steps, int layersWithParameters)
    {
        // The first layer's input needs no gradient, so its signal never fires: one bucket per step is left for after backward.
        foreach (var rank in _twoRanks!)
            Assert.AreEqual(steps * (layersWithParameters - 1L), TrainingJob.RunOf(rank, run)["overlapped_buckets"]!.GetValue<long>(), $"rank {rank["rank"]} {model}");
    }

    [TestMethod]
    [DataRow(1, "buckets reduced during backward")]
    [DataRow(15, "buckets reduced after backward")]
    [DataRow(20, "bf16, accumulation")]
    public void The_preemption_flag_travels_with_the_gradients_without_an_all_reduce_of_its_own(int run, string what)
    {
        // A prepared loader makes every synchronizing step agree on the flag; a gradient bucket carries it.
        foreach (var rank in _twoRanks!)
            Assert.AreEqual(0L, TrainingJob.RunOf(rank, run)["separate_preemption_votes"]!.GetValue<long>(), $"rank {rank["rank"]}, {what}");
    }

    [TestMethod]
    public void A_deep_model_whose_buckets_are_reduced_while_backward_runs_reaches_the_parameters_of_one_rank_with_batch_32()
    {
        var reference = InProcess("model=chain", "optimizer=sgd", "batch=32", "steps=3", "size=96");

        foreach (var rank in _twoRanks!)
            AssertClose(Parameters(reference), Parameters(TrainingJob.RunOf(rank, ChainRun)), 1e-5, $"rank {rank["rank"]} chain/sgd");
    }

    [TestMethod]
    public void Only_the_main_process_writes_tensorboard_events()
    {
        var logs = TrainingJob.RunOf(_twoRanks![0], 9)["log_directory"]!.GetValue<string>();

        var events = Directory.GetFiles(logs, "events.out.tfevents.*", SearchOption.AllDirectories);

        Assert.HasCount(1, events, "one event file, from rank 0 alone");
        CollectionAssert.AreEqual(new[] { new TensorBoardEvents.Scalar("logged_by_rank", 3, 0f) }, TensorBoardEvents.ReadScalars(events[0]));
    }

    [TestMethod]
    public void Trackers_record_the_hyper_parameters_and_the_metrics_reduced_across_ranks_from_rank_0_alone()
    {
        var project = Path.Combine(TrainingJob.RunOf(_twoRanks![0], TrackersRun)["log_directory"]!.GetValue<string>(), "regression");

        var events = Directory.GetFiles(Path.GetDirectoryName(project)!, "events.out.tfevents.*", SearchOption.AllDirectories);
        Assert.HasCount(1, events, "one event file, from rank 0 alone, in the project's folder");
        Assert.AreEqual(project, Path.GetDirectoryName(events[0]));
        // Rank r logs loss = r + 1 and rank_times_ten = 10 r: mean, max, sum, then rank 0's own.
        CollectionAssert.AreEqual(
            new[]
            {
                new TensorBoardEvents.Scalar("loss", 1, 1.5f), new TensorBoardEvents.Scalar("rank_times_ten", 1, 5f),
                new TensorBoardEvents.Scalar("loss", 2, 2f), new TensorBoardEvents.Scalar("loss", 3, 3f), new TensorBoardEvents.Scalar("loss", 4, 1f),
            },
            TensorBoardEvents.ReadScalars(events[0]));
        var hparams = TensorBoardEvents.ReadHParams(events[0]);
        CollectionAssert.AreEquivalent(
            new Dictionary<string, object> { ["lr"] = 0.01, ["epochs"] = 3.0, ["optimizer"] = "adam", ["shuffle"] = true },
            hparams.Values);
        Assert.AreEqual(1L, hparams.EndStatus, "EndTraining closes the hparams session as a success");

        var lines = File.ReadAllLines(Path.Combine(project, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.HasCount(5, lines, "the configuration and four Log calls, from rank 0 alone");
        Assert.AreEqual("regression", lines[0]["project"]!.GetValue<string>());
        Assert.AreEqual(0.01, lines[0]["config"]!["lr"]!.GetValue<double>());
        Assert.AreEqual("adam", lines[0]["config"]!["optimizer"]!.GetValue<string>());
        CollectionAssert.AreEqual(new long[] { 1, 2, 3, 4 }, lines.Skip(1).Select(l => l["step"]!.GetValue<long>()).ToArray());
        CollectionAssert.AreEqual(new[] { 1.5, 2, 3, 1 }, lines.Skip(1).Select(l => l["values"]!["loss"]!.GetValue<double>()).ToArray());
        Assert.AreEqual(5.0, lines[1]["values"]!["rank_times_ten"]!.GetValue<double>());
    }

    [TestMethod]
    public void Loggers_write_on_the_main_process_only_unless_asked_for_every_rank()
    {
        var logged = _twoRanks!.Select(r => TrainingJob.RunOf(r, TrackersRun)["logged"]!.AsArray().Select(l => l!.GetValue<string>()).ToArray()).ToList();

        CollectionAssert.AreEqual(new[] { "main_only: rank 0 says hello", "every_rank: rank 0 says hello" }, logged[0]);
        CollectionAssert.AreEqual(new[] { "every_rank: rank 1 says hello" }, logged[1]);
    }

    [TestMethod]
    public void Get_tracker_hands_the_other_ranks_a_tracker_that_records_nothing()
    {
        Assert.AreEqual("JsonLinesTracker", TrainingJob.RunOf(_twoRanks![0], TrackersRun)["jsonl_tracker"]!.GetValue<string>());
        Assert.AreEqual("BlankTracker", TrainingJob.RunOf(_twoRanks![1], TrackersRun)["jsonl_tracker"]!.GetValue<string>());
    }

    [TestMethod]
    public void Device_specific_seeds_add_the_rank()
    {
        var draws = _twoRanks!.Select(r => TrainingJob.RunOf(r, 9)["device_seeded_draw"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray()).ToList();

        for (var rank = 0; rank < draws.Count; rank++)
        {
            torch.manual_seed(11 + rank);
            CollectionAssert.AreEqual(torch.rand(3).data<float>().ToArray(), draws[rank], $"rank {rank} draws as after manual_seed(11 + {rank})");
        }
        CollectionAssert.AreNotEqual(draws[0], draws[1], "the ranks draw differently");
    }

    [TestMethod]
    [DataRow(0, "mlp", "adam")]
    [DataRow(1, "cnn", "sgd")]
    public void Three_ranks_with_batch_16_reach_the_parameters_of_one_rank_with_batch_48(int run, string model, string optimizer)
    {
        var reference = InProcess("model=" + model, "optimizer=" + optimizer, "batch=48", "steps=20", "size=240");

        foreach (var rank in _threeRanks!)
            AssertClose(Parameters(reference), Parameters(TrainingJob.RunOf(rank, run)), 1e-5, $"rank {rank["rank"]} {model}/{optimizer}");
    }

    [TestMethod]
    public void Split_batches_divides_each_batch_between_the_ranks()
    {
        var reference = InProcess("model=mlp", "optimizer=adam", "batch=32", "steps=20", "size=224");

        foreach (var rank in _twoRanks!)
            AssertClose(Parameters(reference), Parameters(TrainingJob.RunOf(rank, 5)), 1e-5, $"rank {rank["rank"]} with split batches");
    }

    [TestMethod]
    [DataRow(2, 4, 23L)]
    [DataRow(3, 2, 31L)]
    public void Every_sample_is_read_once_per_epoch_and_gather_for_metrics_returns_exactly_the_dataset(int worldSize, int run, long size)
    {
        var records = (worldSize == 2 ? _twoRanks! : _threeRanks!).Select(r => TrainingJob.RunOf(r, run)).ToList();
        var everything = Enumerable.Range(0, (int)size).Select(i => (long)i).ToList();

        for (var epoch = 0; epoch < 2; epoch++)
        {
            var read = records.SelectMany(r => Longs(r["read"]![epoch]!)).ToList();
            CollectionAssert.AreEquivalent(everything, read.Distinct().ToList(), $"epoch {epoch}: every sample read");
            Assert.IsTrue(read.Count - size < worldSize * Longs(records[0]["batch_sizes"]![epoch]!).Max(), "padding is less than one global step");
            Assert.IsTrue(records.All(r => r["batch_sizes"]![epoch]!.AsArray().Count == records[0]["batch_sizes"]![epoch]!.AsArray().Count), "all ranks take the same number of steps");
            foreach (var record in records)
                CollectionAssert.AreEqual(everything, Longs(record["gathered"]![epoch]!).Order().ToList(), $"rank {record["rank"]} epoch {epoch}: gathered for metrics");
        }
        var epoch0 = Longs(records[0]["gathered"]![0]!);
        var epoch1 = Longs(records[0]["gathered"]![1]!);
        CollectionAssert.AreNotEqual(epoch0, epoch1, "the shuffle changes per epoch");
        foreach (var record in records)
            CollectionAssert.AreEqual(epoch0, Longs(record["gathered"]![0]!), "every rank gathers the same, in the same order: the shuffle is the same on every rank");
    }

    [TestMethod]
    public void A_run_resumed_from_a_checkpoint_reaches_the_parameters_of_a_run_that_never_stopped()
    {
        foreach (var rank in _twoRanks!)
        {
            var uninterrupted = TrainingJob.RunOf(rank, 6);
            var resumed = TrainingJob.RunOf(rank, 7);
            AssertClose(Parameters(uninterrupted), Parameters(resumed), 0, $"rank {rank["rank"]}");
            Assert.AreEqual(20L, resumed["optimizer_steps"]!.GetValue<long>());
            Assert.HasCount(10, Losses(resumed));
            CollectionAssert.AreEqual(Losses(uninterrupted)[10..], Losses(resumed), "the resumed run sees the same batches");
        }
    }

    [TestMethod]
    public void Bf16_on_two_ranks_trains_to_the_fp32_loss_within_five_percent()
    {
        var fp32 = InProcess("batch=32", "steps=30", "size=224", "optimizer=adam");
        var fp32Loss = Losses(fp32)[^5..].Average();

        foreach (var rank in _twoRanks!)
        {
            var bf16 = TrainingJob.RunOf(rank, 8);
            var loss = Losses(bf16)[^5..].Average();
            Assert.AreEqual("BFloat16", bf16["compute_dtype"]!.GetValue<string>());
            Assert.IsTrue(Math.Abs(loss - fp32Loss) <= 0.05 * fp32Loss + 2e-3, $"rank {rank["rank"]}: bf16 loss {loss} vs fp32 {fp32Loss}");
        }
        AssertClose(Parameters(TrainingJob.RunOf(_twoRanks[0], 8)), Parameters(TrainingJob.RunOf(_twoRanks[1], 8)), 0, "bf16 ranks stay identical");
    }

    [TestMethod]
    public void Process_helpers_pad_split_reduce_gather_and_order_the_main_process_first()
    {
        var records = _twoRanks!.Select(r => TrainingJob.RunOf(r, 9)).ToList();

        foreach (var record in records)
        {
            CollectionAssert.AreEqual(new long[] { 3, 3 }, Longs(record["padded_shape"]!));
            Assert.AreEqual(6L, record["gathered_rows"]!.GetValue<long>());
            Assert.AreEqual(3f, record["sum"]!.GetValue<float>());
            Assert.AreEqual(1.5f, record["mean"]!.GetValue<float>());
            Assert.AreEqual(2f, record["max"]!.GetValue<float>());
            CollectionAssert.AreEqual(new[] { 0f, 10f }, record["gathered_scalar"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());
        }
        Assert.AreEqual(0f, records[0]["padded_tail"]!.GetValue<float>(), "rank 0's two rows are padded with zeros at the end");
        Assert.AreEqual(0f, records[0]["padded_first_head"]!.GetValue<float>(), "pad_first puts the zeros first");
        Assert.AreEqual(2f, records[1]["padded_tail"]!.GetValue<float>(), "rank 1 needed no padding");
        CollectionAssert.AreEqual(new long[] { 0, 1, 2, 3 }, Longs(records[0]["split"]!));
        CollectionAssert.AreEqual(new long[] { 4, 5, 6 }, Longs(records[1]["split"]!));
        CollectionAssert.AreEqual(new long[] { 4, 5, 6, 6 }, Longs(records[1]["split_padded"]!));
        var order = File.ReadAllLines(records[0]["order_file"]!.GetValue<string>());
        CollectionAssert.AreEqual(new[] { "0", "1" }, order, "the main process runs the block first");
    }

    [TestMethod]
    public void Two_ranks_with_batch_8_and_2_accumulation_steps_equal_one_rank_with_batch_32()
    {
        var reference = InProcess("model=mlp", "optimizer=adam", "batch=32", "steps=20", "size=224");

        foreach (var rank in _twoRanks!)
        {
            var run = TrainingJob.RunOf(rank, 12);
            Assert.AreEqual(20L, run["optimizer_steps"]!.GetValue<long>());
            AssertClose(Parameters(reference), Parameters(run), 1e-5, $"rank {rank["rank"]}");
        }
    }

    [TestMethod]
    public void Fp16_on_two_ranks_skips_the_same_step_everywhere_and_tracks_one_rank()
    {
        var reference = InProcess("batch=32", "steps=20", "size=224", "precision=fp16", "loss_scale=1024", "inject_inf_at=4");
        var runs = _twoRanks!.Select(r => TrainingJob.RunOf(r, 13)).ToList();

        foreach (var run in runs)
        {
            Assert.AreEqual(1L, run["skipped"]!.GetValue<long>(), "an inf on rank 0 and rank 1 alike is skipped on both");
            Assert.AreEqual(19L, run["optimizer_steps"]!.GetValue<long>());
            AssertClose(Parameters(reference), Parameters(run), 2e-2, $"rank {run["rank"]} vs one rank");
        }
        AssertClose(Parameters(runs[0]), Parameters(runs[1]), 0, "the ranks stay identical");
    }

    [TestMethod]
    public void The_scheduler_steps_once_per_process_for_every_optimizer_step()
    {
        foreach (var rank in _twoRanks!)
            Assert.AreEqual(0.05 * Math.Pow(0.5, 3 * 2), TrainingJob.RunOf(rank, 11)["learning_rate"]!.GetValue<double>(), 1e-12);
    }

    [TestMethod]
    public void Prepare_gives_every_rank_the_weights_of_rank_0()
    {
        var rank0Init = InProcess("model=cnn", "steps=0");
        var (rank1Model, _) = Accelerate.TrainingWorker.Models.Create("cnn", 2);
        var rank1First = rank1Model.parameters().First().reshape(-1)[0].item<float>();

        AssertClose(Parameters(rank0Init), Parameters(TrainingJob.RunOf(_twoRanks![0], 10)), 0, "rank 0");
        AssertClose(Parameters(rank0Init), Parameters(TrainingJob.RunOf(_twoRanks[1], 10)), 0, "rank 1 after Prepare");
        Assert.AreNotEqual(Parameters(rank0Init)[0], rank1First, "rank 1 started from other weights");
    }

    [TestMethod]
    public void A_checkpoint_of_split_batches_resumes_on_another_number_of_processes_and_reaches_the_same_parameters()
    {
        var resumedAlone = InProcess("batch=32", "split=true", "steps=20", "size=224", "optimizer=adam", "resume=true", "checkpoint=" + Path.Combine(_checkpoints!, "split"));

        AssertClose(Parameters(TrainingJob.RunOf(_twoRanks![0], SplitCheckpointRun)), Parameters(resumedAlone), 1e-5, "one process resuming what two saved");
        Assert.HasCount(10, Losses(resumedAlone), "it runs the 10 batches after the checkpoint");
    }

    [TestMethod]
    public void A_checkpoint_of_per_rank_batches_without_the_global_data_position_is_refused_on_another_number_of_processes()
    {
        // As written before checkpoints recorded the samples consumed: each loader's epoch and batch only.
        var old = Path.Combine(_checkpoints!, "two-without-samples");
        CopyFolder(Path.Combine(_checkpoints!, "two"), old);
        var progress = JsonNode.Parse(File.ReadAllText(Path.Combine(old, "accelerator.json")))!.AsObject();
        foreach (var loader in progress["Loaders"]!.AsArray()) loader!.AsObject().Remove("Samples");
        File.WriteAllText(Path.Combine(old, "accelerator.json"), progress.ToJsonString());

        var error = Assert.ThrowsExactly<AccelerateException>(() =>
            InProcess("batch=16", "steps=20", "size=224", "optimizer=adam", "resume=true", "checkpoint=" + old));

        Assert.AreEqual("ACC2290", error.Code, error.Message);
        StringAssert.Contains(error.Message, "saved by 2 processes");
        StringAssert.Contains(error.Message, "Resume it once with 2 processes and save again");
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    [TestMethod]
    public void A_job_restarted_after_a_rank_was_killed_resumes_from_the_last_checkpoint_and_reaches_the_same_parameters()
    {
        var project = Directory.CreateTempSubdirectory("accelerate-restart-");
        try
        {
            string[] args = ["dotnet", TrainingJob.WorkerPath, "batch=16", "steps=20", "size=224", "optimizer=adam", "every=5", "die_rank=1", "die_at=12", "project=" + project.FullName];
            var port = Accelerate.Runtime.Tests.Distributed.RankProcesses.FreePort();
            var secret = Accelerate.Runtime.Tests.Distributed.RankProcesses.NewSecret();
            using (var first = new Accelerate.Runtime.Tests.Distributed.RankProcesses())
            {
                for (var rank = 0; rank < 2; rank++)
                    first.Start(Accelerate.Runtime.Tests.Distributed.RankProcesses.Contract(rank, 2, port, secret), [.. args, "out=" + Path.Combine(project.FullName, "first.{rank}.json")]);
                first.Ranks[1].WaitForLine("waiting to be killed", TimeSpan.FromSeconds(120));
                first.Ranks[1].Process.Kill(entireProcessTree: true);
                first.WaitForAll(TimeSpan.FromSeconds(120));
                Assert.AreNotEqual(0, first.Ranks[0].Process.ExitCode, "rank 0 fails when its peer dies:\n" + first.Describe());
            }

            var output = Path.Combine(project.FullName, "second.{rank}.json");
            using var second = new Accelerate.Runtime.Tests.Distributed.RankProcesses();
            var port2 = Accelerate.Runtime.Tests.Distributed.RankProcesses.FreePort();
            for (var rank = 0; rank < 2; rank++)
            {
                var environment = Accelerate.Runtime.Tests.Distributed.RankProcesses.Contract(rank, 2, port2, secret);
                environment["TORCHELASTIC_RESTART_COUNT"] = "1";
                second.Start(environment, [.. args, "out=" + output]);
            }
            second.WaitForAll(TimeSpan.FromSeconds(120));
            Assert.IsTrue(second.Ranks.All(r => r.Process.ExitCode == 0), second.Describe());
            StringAssert.Contains(second.Ranks[0].Output, "resumed from " + Path.Combine(project.FullName, "checkpoints", "checkpoint_1"));

            var reference = InProcess("batch=32", "steps=20", "size=224", "optimizer=adam");
            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(10, Losses(resumed), "the restarted job ran the 10 batches after the checkpoint");
                AssertClose(Parameters(reference), Parameters(resumed), 1e-5, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Accelerate_launch_with_an_mpirun_hostfile_starts_the_ranks_through_mpirun_which_reach_the_parameters_of_one_process()
    {
        var folder = Directory.CreateTempSubdirectory("accelerate-launch-mpirun-");
        try
        {
            var hostfile = Path.Combine(folder.FullName, "hostfile");
            File.WriteAllText(hostfile, "localhost slots=2\n");
            var output = Path.Combine(folder.FullName, "result.{rank}.json");
            using var launch = new Accelerate.Runtime.Tests.Distributed.RankProcesses();
            // Open MPI refuses to run as root unless told; the launcher leaves that choice to the user.
            var launcher = launch.Start(new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" },
            [
                "dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--cpu", "--num_processes", "2", "--mpirun_hostfile", hostfile,
                TrainingJob.WorkerPath, "batch=16", "steps=10", "size=160", "optimizer=adam", "out=" + output,
            ]);
            launch.WaitForAll(TimeSpan.FromSeconds(150));

            Assert.AreEqual(0, launcher.Process.ExitCode, launch.Describe());
            StringAssert.Contains(launcher.Output, "through mpirun with hostfile");
            var reference = InProcess("batch=32", "steps=10", "size=160", "optimizer=adam");
            for (var rank = 0; rank < 2; rank++)
            {
                var result = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.AreEqual(2, result["world"]!.GetValue<int>());
                AssertClose(Parameters(reference), Parameters(result), 1e-5, $"rank {rank} started by mpirun");
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Accelerate_launch_places_ranks_as_the_mpirun_hostfile_says_and_fails_when_it_has_too_few_slots()
    {
        var folder = Directory.CreateTempSubdirectory("accelerate-launch-mpirun-");
        try
        {
            var hostfile = Path.Combine(folder.FullName, "hostfile");
            File.WriteAllText(hostfile, "localhost slots=1\n");
            using var launch = new Accelerate.Runtime.Tests.Distributed.RankProcesses();
            var launcher = launch.Start(new Dictionary<string, string?> { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" },
                ["dotnet", TrainingJob.Metadata("AccelerateCli"), "launch", "--cpu", "--num_processes", "2", "--mpirun_hostfile", hostfile, TrainingJob.WorkerPath, "steps=1"]);
            launch.WaitForAll(TimeSpan.FromSeconds(90));

            Assert.AreNotEqual(0, launcher.Process.ExitCode, launch.Describe());
            StringAssert.Contains(launcher.Output, "not enough slots");
            StringAssert.Contains(launcher.Output, "mpirun ended with exit code");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Accelerate_launch_with_max_restarts_restarts_a_failed_job_which_resumes_and_reaches_the_same_parameters()
    {
        var project = Directory.CreateTempSubdirectory("accelerate-launch-restart-");
        try
        {
            var cli = TrainingJob.Metadata("AccelerateCli");
            var output = Path.Combine(project.FullName, "result.{rank}.json");
            using var launch = new Accelerate.Runtime.Tests.Distributed.RankProcesses();
            var launcher = launch.Start(new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" },
            [
                "dotnet", cli, "launch", "--num_processes", "2", "--max_restarts", "1", "--main_process_port", Accelerate.Runtime.Tests.Distributed.RankProcesses.FreePort().ToString(),
                TrainingJob.WorkerPath, "batch=16", "steps=20", "size=224", "optimizer=adam", "every=5", "die_rank=1", "crash_at=12", "project=" + project.FullName, "out=" + output,
            ]);
            launch.WaitForAll(TimeSpan.FromSeconds(150));

            Assert.AreEqual(0, launcher.Process.ExitCode, launch.Describe());
            StringAssert.Contains(launcher.Output, "fails at batch 12 on purpose");
            StringAssert.Contains(launcher.Output, "resumed from " + Path.Combine(project.FullName, "checkpoints", "checkpoint_1"));
            var reference = InProcess("batch=32", "steps=20", "size=224", "optimizer=adam");
            for (var rank = 0; rank < 2; rank++)
            {
                var resumed = JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", rank.ToString())))!.AsObject();
                Assert.HasCount(10, Losses(resumed), "the restarted group ran the 10 batches after the checkpoint");
                AssertClose(Parameters(reference), Parameters(resumed), 1e-5, $"rank {rank}");
            }
        }
        finally
        {
            project.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void No_sync_of_one_model_keeps_its_gradients_local_while_the_other_averages_and_the_next_backward_averages_the_sum()
    {
        foreach (var rank in _twoRanks!)
        {
            var run = TrainingJob.RunOf(rank, DdpRun);
            Assert.IsTrue(run["sync_gradients_inside"]!.GetValue<bool>(), "the other model still synchronizes");
            Assert.IsTrue(run["first_grad_inside_is_null"]!.GetValue<bool>(), "the model in NoSync keeps its gradient aside");
            AssertClose(MeanGradient(m => m.second, 0), Floats(run["second_grad_inside"]), 1e-5, $"rank {rank["rank"]}: the other model's gradient is averaged inside the scope");
            AssertClose(MeanGradient(m => m.first, 0, 1), Floats(run["first_grad_after"]), 1e-5, $"rank {rank["rank"]}: after the scope, the sum of both batches averaged");
        }
    }

    [TestMethod]
    public void Trigger_sync_in_backward_inside_no_sync_averages_everything_accumulated()
    {
        foreach (var rank in _twoRanks!)
            AssertClose(MeanGradient(m => m.first, 2, 3), Floats(TrainingJob.RunOf(rank, DdpRun)["triggered_grad"]), 1e-5, $"rank {rank["rank"]}");
    }

    [TestMethod]
    public void Broadcast_buffers_gives_every_rank_the_batch_norm_statistics_of_rank_0_and_without_it_each_rank_keeps_its_own()
    {
        var runs = _twoRanks!.Select(r => TrainingJob.RunOf(r, DdpRun)).ToList();

        AssertClose(Floats(runs[0]["buffers_broadcast"]), Floats(runs[1]["buffers_broadcast"]), 0, "BroadcastBuffers = true: rank 1 ends with rank 0's running mean");
        AssertClose(Floats(runs[0]["buffers_broadcast"]), Floats(runs[0]["buffers_local"]), 0, "rank 0 computes the same statistics either way");
        var apart = Floats(runs[0]["buffers_local"]).Zip(Floats(runs[1]["buffers_local"]), (a, b) => Math.Abs(a - b)).Max();
        Assert.IsTrue(apart > 1e-3, $"BroadcastBuffers = false: the ranks' running means differ (by {apart})");
    }

    [TestMethod]
    [DataRow("unused_as_zero")]
    [DataRow("find_unused")]
    public void A_parameter_one_rank_did_not_use_averages_as_zero_and_one_no_rank_used_keeps_no_gradient_only_with_find_unused_parameters(string record)
    {
        // Rank 0 uses branch a, rank 1 branch b, no rank branch c; buckets go out b, a, stem, c on both ranks.
        var local = Enumerable.Range(0, 2).Select(r =>
        {
            var model = new Accelerate.TrainingWorker.DdpScenario.Branches();
            model.Loss(r).backward();
            return model.Gradients().ToDictionary(g => g.Key, g => g.Value?.data<float>().ToArray());
        }).ToList();
        foreach (var rank in _twoRanks!)
        {
            var run = TrainingJob.RunOf(rank, DdpRun)[record]!;
            AssertClose(local[0]["a"]!.Select(v => v / 2).ToArray(), Floats(run["a"]), 1e-6, $"rank {rank["rank"]}: a, used on rank 0 only, averages with rank 1's zero");
            AssertClose(local[1]["b"]!.Select(v => v / 2).ToArray(), Floats(run["b"]), 1e-6, $"rank {rank["rank"]}: b, used on rank 1 only");
            AssertClose(local[0]["stem"]!.Zip(local[1]["stem"]!, (x, y) => (x + y) / 2).ToArray(), Floats(run["stem"]), 1e-6, $"rank {rank["rank"]}: the stem, used by both");
            if (record == "find_unused")
            {
                Assert.IsNull(run["c"], "no rank used c: its gradient stays null, as under DDP's find_unused_parameters");
                Assert.IsTrue(run["c_unchanged"]!.GetValue<bool>(), "so SGD with weight decay leaves c alone");
            }
            else
            {
                AssertClose(new float[4], Floats(run["c"]), 0, "without FindUnusedParameters, c gets a zero gradient");
                Assert.IsFalse(run["c_unchanged"]!.GetValue<bool>(), "which weight decay still applies");
            }
        }
        Assert.AreEqual(1L, TrainingJob.RunOf(_twoRanks[1], DdpRun)[record]!["overlapped_buckets"]!.GetValue<long>(), "rank 1 sent b while backward ran");
        Assert.AreEqual(0L, TrainingJob.RunOf(_twoRanks[0], DdpRun)[record]!["overlapped_buckets"]!.GetValue<long>(), "rank 0's a waited for b, which it never used");
    }

    [TestMethod]
    public void Grad_scaler_options_set_how_the_loss_scale_grows_and_backs_off_on_two_ranks()
    {
        foreach (var rank in _twoRanks!)
        {
            var run = TrainingJob.RunOf(rank, ScalerRun);
            CollectionAssert.AreEqual(SyncOptionsTests.ExpectedScales, Doubles(run["loss_scales"]!), $"rank {rank["rank"]}");
            Assert.AreEqual(1L, run["skipped"]!.GetValue<long>());
        }
        AssertClose(Parameters(TrainingJob.RunOf(_twoRanks[0], ScalerRun)), Parameters(TrainingJob.RunOf(_twoRanks[1], ScalerRun)), 0, "the ranks stay identical");
    }

    /// <summary>The one-process reference: the gradient of the chosen model's weight over the given batches, averaged over both ranks' data.</summary>
    private static float[] MeanGradient(Func<(TorchSharp.Modules.Linear first, TorchSharp.Modules.Linear second), TorchSharp.Modules.Linear> pick, params int[] batches)
    {
        var sum = new float[4];
        for (var rank = 0; rank < 2; rank++)
        {
            var model = pick(Accelerate.TrainingWorker.DdpScenario.TwoModels());
            foreach (var batch in batches) Accelerate.TrainingWorker.DdpScenario.Loss(model, Accelerate.TrainingWorker.DdpScenario.Batch(rank, batch)).backward();
            var grad = model.weight!.grad!.data<float>().ToArray();
            for (var i = 0; i < sum.Length; i++) sum[i] += grad[i] / 2;
        }
        return sum;
    }

    private static float[] Floats(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    private static List<long> Longs(JsonNode node) => node.AsArray().Select(v => v!.GetValue<long>()).ToList();
}
