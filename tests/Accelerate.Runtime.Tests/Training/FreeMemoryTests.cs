using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class FreeMemoryTests
{
    [TestMethod]
    public void After_FreeMemory_a_trained_model_nothing_else_holds_is_collected()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16, GradientAccumulationSteps = 2 });
        var model = TrainOneAccumulationStep(accelerator);

        accelerator.FreeMemory();

        Assert.IsFalse(model.IsAlive, "the accelerator no longer holds the model, its optimizer or the gradients set aside");
    }

    [TestMethod]
    public void Without_FreeMemory_the_accelerator_keeps_the_model_alive()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16, GradientAccumulationSteps = 2 });
        var model = TrainOneAccumulationStep(accelerator);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.IsTrue(model.IsAlive, "the check above can fail");
        GC.KeepAlive(accelerator);
    }

    [TestMethod]
    public void A_model_prepared_after_FreeMemory_starts_a_fresh_accumulation_cycle_and_trains_alone()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No, GradientAccumulationSteps = 2 });
        var first = nn.Linear(3, 1);
        accelerator.Prepare(first, optim.SGD(first.parameters(), 0.1));
        using (accelerator.Accumulate(first)) accelerator.Backward(first.call(torch.ones(2, 3)).sum());
        Assert.IsFalse(accelerator.SyncGradients, "the first batch of two only accumulates");

        accelerator.FreeMemory();
        var second = nn.Linear(3, 1);
        var optimizer = optim.SGD(second.parameters(), 0.1);
        accelerator.Prepare(second, optimizer);
        var before = second.weight!.clone();
        using (accelerator.Accumulate(second)) accelerator.Backward(second.call(torch.ones(2, 3)).sum());
        optimizer.step();

        Assert.IsTrue(accelerator.SyncGradients is false && second.weight.allclose(before), "the new model's first batch accumulates too: the counter started again");
        using (accelerator.Accumulate(second)) accelerator.Backward(second.call(torch.ones(2, 3)).sum());
        optimizer.step();
        Assert.IsTrue(accelerator.SyncGradients);
        Assert.IsFalse(second.weight.allclose(before), "the second batch steps");
        Assert.IsNull(first.weight!.grad, "the freed model's gradients set aside were not handed back to it");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference TrainOneAccumulationStep(Accelerator accelerator)
    {
        var model = nn.Sequential(("fc1", nn.Linear(4, 8)), ("fc2", nn.Linear(8, 1)));
        var optimizer = optim.Adam(model.parameters());
        accelerator.Prepare(model, optimizer);
        using (accelerator.Accumulate(model)) accelerator.Backward(model.call(torch.ones(2, 4)).sum());
        return new WeakReference(model);
    }
}
