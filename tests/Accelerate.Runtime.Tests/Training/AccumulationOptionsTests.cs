using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class AccumulationOptionsTests
{
    private static bool[] SyncPattern(bool syncWithDataLoader)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No, GradientAccumulationSteps = 2, SyncWithDataLoader = syncWithDataLoader });
        var model = nn.Linear(1, 1);
        var optimizer = optim.SGD(model.parameters(), 0.01);
        var loader = accelerator.PrepareDataLoader(new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset("index", 6), 2, SyntheticDataset.Collate, shuffle: false));
        accelerator.Prepare(model, optimizer);
        var pattern = new List<bool>();
        for (var epoch = 0; epoch < 2; epoch++)
            foreach (var (inputs, _) in loader)
            {
                accelerator.Backward(model.call(inputs).sum());
                pattern.Add(accelerator.SyncGradients);
                optimizer.step();
                optimizer.zero_grad();
            }
        return pattern.ToArray();
    }

    [TestMethod]
    public void By_default_the_last_batch_of_an_epoch_synchronizes()
    {
        CollectionAssert.AreEqual(new[] { false, true, true, false, true, true }, SyncPattern(syncWithDataLoader: true));
    }

    [TestMethod]
    public void Without_SyncWithDataLoader_the_count_runs_on_across_epochs()
    {
        CollectionAssert.AreEqual(new[] { false, true, false, true, false, true }, SyncPattern(syncWithDataLoader: false));
    }
}
