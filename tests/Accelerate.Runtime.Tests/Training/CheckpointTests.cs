using Accelerate.TrainingWorker;
using TorchSharp;
using static TorchSharp.torch;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class CheckpointTests
{
    private DirectoryInfo _project = null!;

    [TestInitialize]
    public void CreateProject() => _project = Directory.CreateTempSubdirectory("accelerate-project-");

    [TestCleanup]
    public void RemoveProject() => _project.Delete(recursive: true);

    [TestMethod]
    [DataRow("no")]
    [DataRow("fp16")]
    public void Resuming_from_a_checkpoint_reaches_the_parameters_of_an_uninterrupted_run(string precision)
    {
        var checkpoint = Path.Combine(_project.FullName, "ckpt");
        var uninterrupted = InProcess("steps=20", "optimizer=adam", "precision=" + precision, "save_at=7", "checkpoint=" + checkpoint, "size=96");
        var resumed = InProcess("steps=20", "optimizer=adam", "precision=" + precision, "resume=true", "checkpoint=" + checkpoint, "size=96");

        AssertClose(Parameters(uninterrupted), Parameters(resumed), 0, "parameters");
        CollectionAssert.AreEqual(Losses(uninterrupted)[7..], Losses(resumed), "the resumed run reads the batches the first run read after step 7");
        foreach (var file in new[] { "model.bin", "optimizer.bin", "scheduler.json", "random_states_0.bin", "accelerator.json" })
            Assert.IsTrue(File.Exists(Path.Combine(checkpoint, file)), file);
        Assert.AreEqual(precision == "fp16", File.Exists(Path.Combine(checkpoint, "scaler.json")), "the loss scaler is saved under fp16");
    }

    [TestMethod]
    public void Automatic_naming_keeps_the_newest_total_limit_checkpoints_and_loads_the_newest()
    {
        var (accelerator, model, optimizer) = Prepared(new AcceleratorOptions { ProjectDirectory = _project.FullName, AutomaticCheckpointNaming = true, TotalLimit = 2 });
        var weight = model.parameters().First();
        var saved = new List<float>();
        for (var i = 0; i < 4; i++)
        {
            using (torch.no_grad()) weight.fill_(i);
            saved.Add(i);
            accelerator.SaveState();
        }
        using (torch.no_grad()) weight.fill_(99);

        var loaded = accelerator.LoadState();

        var names = Directory.GetDirectories(Path.Combine(_project.FullName, "checkpoints")).Select(Path.GetFileName).Order().ToArray();
        CollectionAssert.AreEqual(new[] { "checkpoint_2", "checkpoint_3" }, names);
        Assert.EndsWith("checkpoint_3", loaded);
        Assert.AreEqual(3f, weight.reshape(-1)[0].item<float>());
    }

    [TestMethod]
    public void A_save_that_dies_half_way_leaves_the_previous_checkpoint_intact()
    {
        var (accelerator, model, _) = Prepared(new AcceleratorOptions());
        var target = Path.Combine(_project.FullName, "state");
        accelerator.SaveState(target);
        var before = File.ReadAllBytes(Path.Combine(target, "model.bin"));
        var failing = new FailingObject();
        accelerator.RegisterForCheckpointing(failing);
        using (torch.no_grad()) model.parameters().First().fill_(5);

        Assert.ThrowsExactly<IOException>(() => accelerator.SaveState(target));

        CollectionAssert.AreEqual(before, File.ReadAllBytes(Path.Combine(target, "model.bin")));
        Assert.IsFalse(File.Exists(Path.Combine(target, "custom_checkpoint_0.bin")));
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    public void A_total_limit_below_one_is_refused_before_any_checkpoint_is_deleted(int limit)
    {
        var (first, _, _) = Prepared(new AcceleratorOptions { ProjectDirectory = _project.FullName, AutomaticCheckpointNaming = true });
        var kept = first.SaveState();

        var error = Assert.ThrowsExactly<AccelerateException>(() => new Accelerator(new AcceleratorOptions { ProjectDirectory = _project.FullName, AutomaticCheckpointNaming = true, TotalLimit = limit }));

        Assert.AreEqual("ACC2250", error.Code);
        StringAssert.Contains(error.Message, "TotalLimit");
        Assert.IsTrue(File.Exists(Path.Combine(kept, "accelerator.json")), "the existing checkpoint is still there");
    }

    [TestMethod]
    public void After_a_restart_without_load_state_automatic_naming_continues_after_the_highest_checkpoint()
    {
        var options = new AcceleratorOptions { ProjectDirectory = _project.FullName, AutomaticCheckpointNaming = true };
        var (first, firstModel, _) = Prepared(options);
        using (torch.no_grad()) firstModel.parameters().First().fill_(1);
        first.SaveState();
        first.SaveState();
        var (restarted, model, _) = Prepared(options);
        using (torch.no_grad()) model.parameters().First().fill_(7);

        var saved = restarted.SaveState();
        using (torch.no_grad()) model.parameters().First().fill_(0);
        var loaded = restarted.LoadState();

        Assert.AreEqual(Path.Combine(_project.FullName, "checkpoints", "checkpoint_2"), saved);
        Assert.AreEqual(saved, loaded);
        Assert.AreEqual(7f, model.parameters().First().reshape(-1)[0].item<float>(), "the newest save is the one loaded");
        Assert.IsTrue(Directory.Exists(Path.Combine(_project.FullName, "checkpoints", "checkpoint_0")), "earlier checkpoints are not overwritten");
    }

    [TestMethod]
    [DataRow("model.bin", "truncated")]
    [DataRow("model.bin", "random")]
    [DataRow("model.bin", "foreign")]
    [DataRow("optimizer.bin", "truncated")]
    [DataRow("optimizer.bin", "random")]
    [DataRow("scheduler.json", "random")]
    [DataRow("custom_checkpoint_0.bin", "truncated")]
    [DataRow("accelerator.json", "truncated")]
    [DataRow("accelerator.json", "random")]
    public void A_damaged_checkpoint_file_is_a_coded_error_naming_the_file_and_nothing_is_restored(string file, string damage)
    {
        var (accelerator, weight, target) = SavedWithSchedulerAndCounter();
        var path = Path.Combine(target, file);
        var length = (int)new FileInfo(path).Length;
        switch (damage)
        {
            case "truncated": File.WriteAllBytes(path, File.ReadAllBytes(path)[..(length / 2)]); break;
            case "random": File.WriteAllBytes(path, RandomBytes(length, seed: 7)); break;
            default:
                var (other, _) = Models.Create("cnn");
                other.save(path);
                break;
        }

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadState(target));

        Assert.AreEqual("ACC2253", error.Code, error.Message);
        StringAssert.Contains(error.Message, path);
        Assert.AreEqual(99f, weight.reshape(-1)[0].item<float>(), "nothing was restored");
    }

    [TestMethod]
    [DataRow("random_states_0.bin")]
    [DataRow("model.bin")]
    [DataRow("optimizer.bin")]
    [DataRow("custom_checkpoint_0.bin")]
    public void A_missing_checkpoint_file_is_a_coded_error_naming_the_file(string file)
    {
        var (accelerator, weight, target) = SavedWithSchedulerAndCounter();
        File.Delete(Path.Combine(target, file));

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadState(target));

        Assert.AreEqual("ACC2252", error.Code, error.Message);
        StringAssert.Contains(error.Message, Path.Combine(target, file));
        Assert.AreEqual(99f, weight.reshape(-1)[0].item<float>(), "nothing was restored");
    }

    [TestMethod]
    [DataRow("huge length")]
    [DataRow("huge count")]
    [DataRow("random")]
    [DataRow("truncated")]
    [DataRow("unknown dtype")]
    public void A_state_dict_file_with_a_hostile_header_is_a_coded_error_not_an_out_of_memory(string hostile)
    {
        var path = Path.Combine(_project.FullName, "model.bin");
        StateDictFile.Write(path, new Dictionary<string, Tensor> { ["w"] = torch.ones(4, 4) });
        var good = File.ReadAllBytes(path);
        byte[] bytes = hostile switch
        {
            // one entry "w", float32 (6), one dimension of 2^50 elements: 4 PiB declared, 0 bytes present
            "huge length" => [1, 1, (byte)'w', 6, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],
            "huge count" => [0xff, 0xff, 0xff, 0xff, 0x0f, 1, (byte)'w'],
            "random" => RandomBytes(good.Length, seed: 3),
            "truncated" => good[..(good.Length - 5)],
            _ => [1, 1, (byte)'w', 99, 1, 4],
        };
        File.WriteAllBytes(path, bytes);

        var error = Assert.ThrowsExactly<AccelerateException>(() => StateDictFile.Read(path));

        Assert.AreEqual("ACC2253", error.Code, error.Message);
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Registered_objects_are_saved_and_restored_and_others_are_refused()
    {
        var (accelerator, _, _) = Prepared(new AcceleratorOptions());
        var counter = new Counter { Value = 41 };
        accelerator.RegisterForCheckpointing(counter);
        var target = accelerator.SaveState(Path.Combine(_project.FullName, "state"));
        counter.Value = 0;

        accelerator.LoadState(target);

        Assert.AreEqual(41, counter.Value);
        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.RegisterForCheckpointing(new object()));
        Assert.AreEqual("ACC2211", error.Code);
        StringAssert.Contains(error.Message, "ICheckpointable");
    }

    [TestMethod]
    public void Saving_without_a_folder_or_automatic_naming_says_how_to_fix_it()
    {
        var (accelerator, _, _) = Prepared(new AcceleratorOptions());

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.SaveState());

        StringAssert.Contains(error.Message, "AutomaticCheckpointNaming");
    }

    [TestMethod]
    public void Save_model_without_safe_serialization_writes_fp32_weights_that_module_load_reads()
    {
        var (accelerator, model, optimizer) = Prepared(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16 });

        var path = accelerator.SaveModel(model, _project.FullName, safeSerialization: false);

        var (fresh, _) = Models.Create("mlp", seed: 5);
        fresh.load(path);
        // The optimizer's fp32 masters are the weights; the bf16 copies the model computes with are not.
        var masters = optimizer.parameters().SelectMany(p => p.to(ScalarType.Float32).reshape(-1).data<float>().ToArray()).ToArray();
        var computeCopies = model.parameters().SelectMany(p => p.to(ScalarType.Float32).reshape(-1).data<float>().ToArray()).ToArray();
        Assert.AreEqual("Float32", optimizer.parameters().First().dtype.ToString());
        Assert.IsTrue(masters.Zip(computeCopies).Any(pair => pair.First != pair.Second), "bf16 rounding shows in the compute copies");
        Assert.IsTrue(fresh.state_dict().Values.All(t => t.dtype == ScalarType.Float32), "saved as fp32");
        AssertClose(masters, fresh.state_dict().Values.SelectMany(t => t.reshape(-1).data<float>().ToArray()).ToArray(), 0, "weights");
    }

    [TestMethod]
    public void Log_writes_tensorboard_event_files_on_the_main_process()
    {
        var logs = Path.Combine(_project.FullName, "runs");
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = logs });

        accelerator.Log(new Dictionary<string, double> { ["loss"] = 0.5 }, step: 1);
        accelerator.Log(new Dictionary<string, double> { ["loss"] = 0.25 });

        var events = Directory.GetFiles(logs, "events.out.tfevents.*", SearchOption.AllDirectories);
        Assert.HasCount(1, events);
        CollectionAssert.AreEqual(
            new[] { new TensorBoardEvents.Scalar("loss", 1, 0.5f), new TensorBoardEvents.Scalar("loss", 2, 0.25f) },
            TensorBoardEvents.ReadScalars(events[0]),
            "the logged scalars, the second at the step after the first");
    }

    [TestMethod]
    public void The_progress_bar_writes_plain_lines_every_tenth_when_output_is_redirected()
    {
        var output = new StringWriter();
        using (var progress = TrainingProgress.Plain(20, "epoch 1", output))
            for (var i = 0; i < 20; i++) progress.Advance(status: "loss=0.1");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(11, lines);
        StringAssert.StartsWith(lines[^1], "epoch 1: 20/20 (100%)");
        StringAssert.Contains(lines[^1], "loss=0.1");
    }

    private static (Accelerator accelerator, nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer) Prepared(AcceleratorOptions options)
    {
        var accelerator = new Accelerator(options);
        var (model, _) = Models.Create("mlp");
        var optimizer = Models.Optimizer("adam", model.parameters());
        (model, optimizer) = accelerator.Prepare(model, optimizer);
        return (accelerator, model, optimizer);
    }

    /// <summary>A saved checkpoint with a scheduler and a registered object, and the model's first weight set to 99 after the save.</summary>
    private (Accelerator accelerator, Tensor weight, string target) SavedWithSchedulerAndCounter()
    {
        var (accelerator, model, optimizer) = Prepared(new AcceleratorOptions());
        accelerator.PrepareScheduler(optim.lr_scheduler.StepLR(optimizer, 1, 0.5));
        accelerator.RegisterForCheckpointing(new Counter { Value = 3 });
        var target = accelerator.SaveState(Path.Combine(_project.FullName, "state"));
        var weight = model.parameters().First();
        using (torch.no_grad()) weight.fill_(99);
        return (accelerator, weight, target);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private sealed class Counter : ICheckpointable
    {
        public int Value { get; set; }

        public void SaveState(Stream stream)
        {
            using var writer = new BinaryWriter(stream); // closes the stream, as most writers do
            writer.Write(Value);
        }

        public void LoadState(Stream stream) => Value = new BinaryReader(stream).ReadInt32();
    }

    private sealed class FailingObject : ICheckpointable
    {
        public void SaveState(Stream stream) => throw new IOException("disk full");

        public void LoadState(Stream stream) { }
    }
}
