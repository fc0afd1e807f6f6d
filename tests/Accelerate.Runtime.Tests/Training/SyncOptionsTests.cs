using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// In one process: NoSync of one model among two, TriggerSyncInBackward, the GradScaler and DDP
/// options and their errors, and the copies of the fp32 masters into the forward weights. What they
/// do across ranks is in <see cref="DistributedTrainingTests"/>.
/// </summary>
[TestClass]
public sealed class SyncOptionsTests
{
    /// <summary>Scale 1024, growth 3 every 2 clean steps, backoff 0.25; batch 3 overflows.</summary>
    internal static readonly double[] ExpectedScales = [1024, 3072, 3072, 768, 768, 2304];

    [TestMethod]
    public void Grad_scaler_options_set_how_the_loss_scale_grows_and_backs_off_in_a_real_fp16_run_that_overflows()
    {
        var run = InProcess([.. DistributedTrainingTests.ScalerArgs, "batch=32"]);

        CollectionAssert.AreEqual(ExpectedScales, Doubles(run["loss_scales"]!));
        Assert.AreEqual(1L, run["skipped"]!.GetValue<long>(), "the batch whose loss was multiplied by 1e8 overflowed fp16 and was skipped");
        Assert.AreEqual(5L, run["optimizer_steps"]!.GetValue<long>());
    }

    [TestMethod]
    public void A_disabled_grad_scaler_leaves_fp16_without_loss_scaling()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Fp16, GradScaler = new GradScalerOptions { Enabled = false } });
        var network = nn.Linear(2, 1);
        var optimizer = optim.SGD(network.parameters(), 0.1);
        accelerator.Prepare(network, optimizer);

        accelerator.Backward(network.call(torch.ones(4, 2)).mean());
        optimizer.step();

        Assert.IsNull(accelerator.LossScaler);
        Assert.AreEqual(1L, accelerator.Step);
    }

    [TestMethod]
    [DataRow("InitScale", 0.0, "positive")]
    [DataRow("GrowthFactor", 1.0, "greater than 1")]
    [DataRow("BackoffFactor", 1.0, "between 0 and 1")]
    [DataRow("BackoffFactor", 0.0, "between 0 and 1")]
    [DataRow("GrowthInterval", 0.0, "at least 1")]
    public void A_grad_scaler_option_out_of_range_is_refused_naming_the_option_and_the_fix(string option, double value, string rule)
    {
        var options = option switch
        {
            "InitScale" => new GradScalerOptions { InitScale = value },
            "GrowthFactor" => new GradScalerOptions { GrowthFactor = value },
            "BackoffFactor" => new GradScalerOptions { BackoffFactor = value },
            _ => new GradScalerOptions { GrowthInterval = (int)value },
        };

        var error = Assert.ThrowsExactly<AccelerateException>(() => new Accelerator(new AcceleratorOptions { GradScaler = options }));

        Assert.AreEqual("ACC2261", error.Code);
        StringAssert.Contains(error.Message, "GradScalerOptions." + option);
        StringAssert.Contains(error.Message, rule);
        StringAssert.Contains(error.Message, "Set it to");
    }

    [TestMethod]
    public void A_bucket_size_that_is_not_positive_is_refused()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => new Accelerator(new AcceleratorOptions { DistributedDataParallel = new DistributedDataParallelOptions { BucketCapMb = 0 } }));

        Assert.AreEqual("ACC2262", error.Code);
        StringAssert.Contains(error.Message, "BucketCapMb");
    }

    [TestMethod]
    public void No_sync_and_trigger_sync_refuse_a_model_that_was_not_prepared()
    {
        var accelerator = new Accelerator(new AcceleratorOptions());
        accelerator.PrepareModel(nn.Linear(2, 1));
        var stranger = nn.Linear(2, 1);

        Assert.AreEqual("ACC2260", Assert.ThrowsExactly<AccelerateException>(() => accelerator.NoSync(stranger)).Code);
        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.TriggerSyncInBackward(stranger));
        Assert.AreEqual("ACC2260", error.Code);
        StringAssert.Contains(error.Message, "Prepare");
    }

    [TestMethod]
    public void No_sync_of_one_model_leaves_the_other_synchronizing_and_trigger_sync_makes_the_backward_synchronize()
    {
        var accelerator = new Accelerator(new AcceleratorOptions());
        var (first, second) = DdpScenario.TwoModels();
        var firstOptimizer = optim.SGD(first.parameters(), 0.1);
        accelerator.Prepare(first, second, firstOptimizer);
        var before = first.weight!.data<float>().ToArray();

        using (accelerator.NoSync(first))
        {
            Assert.IsTrue(accelerator.SyncGradients, "the second model synchronizes");
            accelerator.Backward(DdpScenario.Loss(first, DdpScenario.Batch(0, 0)) + DdpScenario.Loss(second, DdpScenario.Batch(0, 0)));
            Assert.IsNull(first.weight.grad, "kept aside");
            Assert.IsNotNull(second.weight!.grad);
            firstOptimizer.step();
            CollectionAssert.AreEqual(before, first.weight.data<float>().ToArray(), "no step for the model in NoSync");
            using (accelerator.NoSync(second)) Assert.IsFalse(accelerator.SyncGradients, "no model synchronizes");
            using (accelerator.TriggerSyncInBackward(first))
            {
                Assert.IsTrue(accelerator.SyncGradients);
                accelerator.Backward(DdpScenario.Loss(first, DdpScenario.Batch(0, 1)));
            }
        }
        var reference = DdpScenario.TwoModels().first;
        DdpScenario.Loss(reference, DdpScenario.Batch(0, 0)).backward();
        DdpScenario.Loss(reference, DdpScenario.Batch(0, 1)).backward();
        AssertClose(reference.weight!.grad!.data<float>().ToArray(), first.weight.grad!.data<float>().ToArray(), 1e-6, "the triggered backward holds both batches");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Mixed_precision_copies_the_masters_into_the_forward_weights_once_per_step(bool loader)
    {
        const int steps = 4;
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16 });
        var (model, lossFunction) = Models.Create("mlp");
        var reference = Models.Create("mlp").model;
        var optimizer = optim.SGD(model.parameters(), 0.1);
        var referenceOptimizer = optim.SGD(reference.parameters(), 0.1);
        accelerator.Prepare(model, optimizer);
        var data = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(new SyntheticDataset("mlp", 8 * steps), 8, SyntheticDataset.Collate);
        var batches = loader ? accelerator.PrepareDataLoader(data) : data;

        foreach (var (inputs, targets) in batches)
        {
            optimizer.zero_grad();
            accelerator.Backward(lossFunction(model.forward(inputs), targets));
            optimizer.step();
            referenceOptimizer.zero_grad();
            lossFunction(reference.forward(inputs.to(ScalarType.Float32)), targets.to(ScalarType.Float32)).backward();
            referenceOptimizer.step();
        }
        optimizer.zero_grad();

        Assert.AreEqual(steps * 4L, accelerator.MasterCopies, "each of the 4 parameters once per step; zero_grad copies nothing");
        AssertClose(reference.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(),
            model.parameters().SelectMany(p => p.to(ScalarType.Float32).data<float>().ToArray()).ToArray(), 2e-2, "the forward weights follow the fp32 steps");
    }
}
