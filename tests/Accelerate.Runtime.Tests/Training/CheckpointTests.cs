using Accelerate.TrainingWorker;
using TorchSharp;
using static TorchSharp.torch;
using static Accelerate.Tests.Training.TrainingRuns;

namespace Accelerate.Tests.Training;

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
    public void Save_model_writes_fp32_weights_that_module_load_reads()
    {
        var (accelerator, model, optimizer) = Prepared(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16 });

        var path = accelerator.SaveModel(model, _project.FullName);

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

    private sealed class Counter : ICheckpointable
    {
        public int Value { get; set; }

        public void SaveState(Stream stream) => new BinaryWriter(stream).Write(Value);

        public void LoadState(Stream stream) => Value = new BinaryReader(stream).ReadInt32();
    }

    private sealed class FailingObject : ICheckpointable
    {
        public void SaveState(Stream stream) => throw new IOException("disk full");

        public void LoadState(Stream stream) { }
    }
}
