using System.Text.Json;
using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class SkipAndSaveTests
{
    private DirectoryInfo _project = null!;

    [TestInitialize]
    public void CreateProject() => _project = Directory.CreateTempSubdirectory("accelerate-save-");

    [TestCleanup]
    public void RemoveProject() => _project.Delete(recursive: true);

    private static DataLoader<(Tensor, Tensor), (Tensor, Tensor)> IndexLoader(long size, int batch) =>
        new(new SyntheticDataset("index", size), batch, SyntheticDataset.Collate, shuffle: false);

    private static long[] Targets(IEnumerable<(Tensor, Tensor)> loader) => loader.SelectMany(b => b.Item2.data<long>().ToArray()).ToArray();

    [TestMethod]
    public void SkipFirstBatches_starts_the_next_epoch_at_that_batch_and_the_following_epochs_at_the_first()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var loader = accelerator.PrepareDataLoader(IndexLoader(10, 2));

        var skipped = Targets(accelerator.SkipFirstBatches(loader, 3));
        var next = Targets(loader);

        CollectionAssert.AreEqual(new long[] { 6, 7, 8, 9 }, skipped);
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).Select(i => (long)i).ToArray(), next);
        CollectionAssert.AreEqual(Array.Empty<long>(), Targets(accelerator.SkipFirstBatches(loader, 99)), "skipping more than the epoch has reads nothing");
    }

    [TestMethod]
    public void SkipFirstBatches_refuses_a_negative_count_and_a_loader_that_was_not_prepared()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });

        var negative = Assert.ThrowsExactly<AccelerateException>(() => accelerator.SkipFirstBatches(accelerator.PrepareDataLoader(IndexLoader(4, 2)), -1));
        var unprepared = Assert.ThrowsExactly<AccelerateException>(() => accelerator.SkipFirstBatches(IndexLoader(4, 2), 1));

        Assert.AreEqual("ACC2281", negative.Code);
        StringAssert.Contains(negative.Message, "-1");
        Assert.AreEqual("ACC2281", unprepared.Code);
        StringAssert.Contains(unprepared.Message, "not prepared");
    }

    [TestMethod]
    public void A_save_hook_writes_into_the_checkpoint_and_a_load_hook_sees_the_restored_models()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var model = nn.Linear(2, 1);
        accelerator.Prepare(model, optim.SGD(model.parameters(), 0.1));
        var saved = model.weight!.clone();
        var seenAtSave = new List<nn.Module>();
        float[]? seenAtLoad = null;
        using var saveHook = accelerator.RegisterSaveStateHook((models, folder) =>
        {
            seenAtSave.AddRange(models);
            File.WriteAllText(Path.Combine(folder, "extra.json"), "{\"note\":1}");
        });
        using var loadHook = accelerator.RegisterLoadStateHook((models, folder) =>
        {
            seenAtLoad = ((Linear)models[0]).weight!.data<float>().ToArray();
            Assert.IsTrue(File.Exists(Path.Combine(folder, "extra.json")), "the load hook reads what the save hook wrote");
        });

        var checkpoint = accelerator.SaveState(Path.Combine(_project.FullName, "ckpt"));
        using (torch.no_grad()) model.weight!.fill_(7);
        accelerator.LoadState(checkpoint);

        CollectionAssert.AreEqual(new nn.Module[] { model }, seenAtSave);
        Assert.IsTrue(File.Exists(Path.Combine(checkpoint, "extra.json")), "the hook's file moved into the finished checkpoint");
        StringAssert.Contains(File.ReadAllText(Path.Combine(checkpoint, "accelerator.json")), "extra.json", "and is checksummed with it");
        CollectionAssert.AreEqual(saved.data<float>().ToArray(), seenAtLoad, "the load hook runs after the weights were restored");
    }

    [TestMethod]
    public void A_disposed_hook_is_not_called_again()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var calls = 0;
        var hook = accelerator.RegisterSaveStateHook((_, _) => calls++);

        accelerator.SaveState(Path.Combine(_project.FullName, "one"));
        hook.Dispose();
        accelerator.SaveState(Path.Combine(_project.FullName, "two"));

        Assert.AreEqual(1, calls);
    }

    [TestMethod]
    public void Save_writes_a_module_a_state_dict_a_tensor_and_an_object_that_read_back_and_leaves_no_temporary_file()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var model = nn.Linear(3, 2);
        var folder = Path.Combine(_project.FullName, "out");

        Assert.IsTrue(accelerator.Save(model, Path.Combine(folder, "model.bin")));
        accelerator.Save(new Dictionary<string, Tensor> { ["weight"] = model.weight!, ["bias"] = model.bias! }, Path.Combine(folder, "state.bin"));
        accelerator.Save(torch.arange(4), Path.Combine(folder, "tensor.bin"));
        File.WriteAllText(Path.Combine(folder, "config.json"), "old");
        accelerator.Save(new Settings(0.5, "adam"), Path.Combine(folder, "config.json"));

        var fromModel = nn.Linear(3, 2);
        fromModel.load(Path.Combine(folder, "model.bin"));
        var fromState = nn.Linear(3, 2);
        fromState.load(Path.Combine(folder, "state.bin"));
        Assert.IsTrue(fromModel.weight!.allclose(model.weight) && fromState.bias!.allclose(model.bias!));
        using (var reader = new BinaryReader(File.OpenRead(Path.Combine(folder, "tensor.bin"))))
        {
            var tensor = torch.zeros(4, dtype: ScalarType.Int64);
            tensor.Load(reader);
            CollectionAssert.AreEqual(new long[] { 0, 1, 2, 3 }, tensor.data<long>().ToArray());
        }
        Assert.AreEqual(new Settings(0.5, "adam"), JsonSerializer.Deserialize<Settings>(File.ReadAllText(Path.Combine(folder, "config.json"))), "an existing file is replaced");
        CollectionAssert.AreEquivalent(new[] { "model.bin", "state.bin", "tensor.bin", "config.json" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
    }

    public sealed record Settings(double LearningRate, string Optimizer);
}
