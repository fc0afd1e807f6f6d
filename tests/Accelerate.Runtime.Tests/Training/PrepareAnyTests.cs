using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class PrepareAnyTests
{
    [TestMethod]
    public void Two_models_and_two_optimizers_given_optimizers_first_come_back_in_order_and_train_their_fp32_masters()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16 });
        torch.manual_seed(1);
        var first = nn.Linear(4, 2);
        var second = nn.Linear(4, 3);
        var firstOptimizer = optim.SGD(first.parameters(), 0.5);
        var secondOptimizer = optim.SGD(second.parameters(), 0.5);
        var firstBefore = accelerator.GetStateDict(first)["weight"].clone();
        var secondBefore = accelerator.GetStateDict(second)["weight"].clone();

        var prepared = accelerator.Prepare(firstOptimizer, secondOptimizer, first, second);

        Assert.HasCount(4, prepared);
        Assert.AreSame(firstOptimizer, prepared[0]);
        Assert.AreSame(secondOptimizer, prepared[1]);
        Assert.AreSame(first, prepared[2]);
        Assert.AreSame(second, prepared[3]);
        var input = torch.ones(8, 4);
        accelerator.Backward(first.call(input).sum() + second.call(input).sum());
        firstOptimizer.step();
        secondOptimizer.step();
        Assert.AreEqual(ScalarType.BFloat16, first.weight!.dtype, "the model runs in bf16");
        Assert.IsFalse(accelerator.GetStateDict(first)["weight"].allclose(firstBefore), "the first optimizer moved the first model's fp32 masters");
        Assert.IsFalse(accelerator.GetStateDict(second)["weight"].allclose(secondBefore), "the second optimizer moved the second model's fp32 masters");
        Assert.IsTrue(first.weight.to(ScalarType.Float32).allclose(accelerator.GetStateDict(first)["weight"], rtol: 1e-2, atol: 1e-2), "the bf16 copy follows its master");
    }

    [TestMethod]
    public void A_data_loader_alone_comes_back_prepared_and_unknown_objects_come_back_unchanged()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(new SyntheticDataset("index", 10), 4, SyntheticDataset.Collate, shuffle: false);
        var settings = new { LearningRate = 0.1 };

        var prepared = accelerator.Prepare(settings, loader, "tag");

        Assert.AreSame(settings, prepared[0]);
        Assert.AreSame("tag", prepared[2]);
        var preparedLoader = prepared[1] as DataLoader<(Tensor, Tensor), (Tensor, Tensor)>;
        Assert.IsNotNull(preparedLoader, "the loader keeps its static type");
        Assert.AreNotSame(loader, preparedLoader);
        Assert.IsInstanceOfType<IPreparedLoader>(preparedLoader);
        Assert.AreEqual(3L, preparedLoader.Count);
        Assert.AreSame(preparedLoader, accelerator.Prepare(preparedLoader)[0], "preparing twice keeps the prepared loader");
    }

    [TestMethod]
    public void Each_scheduler_is_paired_with_the_optimizer_it_was_built_on()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var first = nn.Linear(2, 2);
        var second = nn.Linear(2, 2);
        var twoGroups = optim.SGD(new[] { new SGD.ParamGroup(new[] { first.weight! }, new SGD.Options { LearningRate = 1.0 }), new SGD.ParamGroup(new[] { first.bias! }, new SGD.Options { LearningRate = 2.0 }) }, 1.0);
        var oneGroup = optim.SGD(second.parameters(), 0.1);
        var firstScheduler = optim.lr_scheduler.StepLR(twoGroups, 1, 0.5);
        var secondScheduler = optim.lr_scheduler.StepLR(oneGroup, 1, 0.5);

        var prepared = accelerator.Prepare(first, second, twoGroups, oneGroup, firstScheduler, secondScheduler);
        var preparedFirst = (optim.lr_scheduler.LRScheduler)prepared[4];
        var preparedSecond = (optim.lr_scheduler.LRScheduler)prepared[5];
        preparedFirst.step();
        preparedSecond.step();

        CollectionAssert.AreEqual(new[] { 0.5, 1.0 }, preparedFirst.get_last_lr().ToArray(), "both groups of the first optimizer");
        CollectionAssert.AreEqual(new[] { 0.05 }, preparedSecond.get_last_lr().Select(v => Math.Round(v, 6)).ToArray());
        Assert.AreEqual(0.5, twoGroups.ParamGroups.First().LearningRate);
    }

    [TestMethod]
    public void The_typed_model_and_optimizer_overload_still_returns_its_static_types()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var model = nn.Linear(2, 1);
        var optimizer = optim.Adam(model.parameters());

        (Linear m, Adam o) = accelerator.Prepare(model, optimizer);

        Assert.AreSame(model, m);
        Assert.AreSame(optimizer, o);
    }
}
