using Accelerate.TrainingWorker;
using TorchSharp;
using static TorchSharp.torch;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class SingleProcessTrainingTests
{
    [TestMethod]
    public void A_process_without_a_launcher_is_rank_0_of_1_on_the_cpu()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });

        Assert.AreEqual(0, accelerator.ProcessIndex);
        Assert.AreEqual(1, accelerator.NumProcesses);
        Assert.IsTrue(accelerator.IsMainProcess && accelerator.IsLocalMainProcess && accelerator.IsLastProcess);
        Assert.IsFalse(accelerator.UseDistributed);
        Assert.AreEqual(DeviceType.CPU, accelerator.Device.type);
    }

    [TestMethod]
    public void Mixed_precision_and_accumulation_come_from_the_launch_contract_unless_given()
    {
        using var _ = new EnvironmentScope(("ACCELERATE_MIXED_PRECISION", "bf16"), ("ACCELERATE_GRADIENT_ACCUMULATION_STEPS", "4"));

        var fromEnvironment = new Accelerator();
        var explicitOptions = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No, GradientAccumulationSteps = 2 });

        Assert.AreEqual(MixedPrecision.Bf16, fromEnvironment.MixedPrecision);
        Assert.AreEqual(4, fromEnvironment.GradientAccumulationSteps);
        Assert.AreEqual(MixedPrecision.No, explicitOptions.MixedPrecision);
        Assert.AreEqual(2, explicitOptions.GradientAccumulationSteps);
    }

    [TestMethod]
    public void An_unknown_mixed_precision_names_the_variable_and_the_choices()
    {
        using var _ = new EnvironmentScope(("ACCELERATE_MIXED_PRECISION", "fp8"));

        var error = Assert.ThrowsExactly<AccelerateException>(() => new Accelerator());

        Assert.AreEqual("ACC2203", error.Code);
        StringAssert.Contains(error.Message, "ACCELERATE_MIXED_PRECISION='fp8'");
        StringAssert.Contains(error.Message, "no, fp16, bf16");
    }

    [TestMethod]
    [DataRow("mlp", "sgd", "false")]
    [DataRow("mlp", "adam", "true")]
    [DataRow("cnn", "adam", "false")]
    public void Batch_16_with_2_accumulation_steps_equals_batch_32(string model, string optimizer, string scope)
    {
        var reference = InProcess("model=" + model, "optimizer=" + optimizer, "batch=32", "steps=10");
        var accumulated = InProcess("model=" + model, "optimizer=" + optimizer, "batch=16", "accumulation=2", "steps=20", "accumulate_scope=" + scope);

        Assert.AreEqual(10L, accumulated["optimizer_steps"]!.GetValue<long>());
        AssertClose(Parameters(reference), Parameters(accumulated), 1e-5, "parameters");
    }

    [TestMethod]
    [DataRow("no", "0")]
    [DataRow("bf16", "0")]
    [DataRow("fp16", "0")]
    [DataRow("no", "0.5")]
    [DataRow("bf16", "0.5")]
    [DataRow("fp16", "0.5")]
    public void Accumulation_with_a_dispose_scope_per_step_trains_as_without_one(string precision, string clip)
    {
        string[] run = ["optimizer=adam", "batch=16", "accumulation=2", "steps=12", "accumulate_scope=true", "loss_scale=1024", "precision=" + precision, "clip=" + clip];
        var plain = InProcess(run);
        var scoped = InProcess([.. run, "dispose_scope=true"]);

        Assert.AreEqual(6L, scoped["optimizer_steps"]!.GetValue<long>());
        AssertClose(Parameters(plain), Parameters(scoped), 0, "parameters with and without a dispose scope per step");
        var norms = Doubles(scoped["clipped_norms"]!);
        Assert.HasCount(clip == "0" ? 0 : 6, norms, "ClipGradNorm ran on every synchronizing step");
        CollectionAssert.AreEqual(Doubles(plain["clipped_norms"]!), norms, "the same gradient norms were clipped");
    }

    [TestMethod]
    public void Backward_refuses_a_loss_it_cannot_differentiate_with_a_code_and_the_fix()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var model = accelerator.PrepareModel(nn.Linear(2, 1));
        using var input = torch.randn(4, 2);
        Tensor withoutGradient;
        using (torch.no_grad()) withoutGradient = model.forward(input).mean();
        var perSample = model.forward(input);
        var once = model.forward(input).mean();
        accelerator.Backward(once);
        var disposed = model.forward(input).mean();
        disposed.Dispose();

        var noGradient = Assert.ThrowsExactly<AccelerateException>(() => accelerator.Backward(withoutGradient));
        var notScalar = Assert.ThrowsExactly<AccelerateException>(() => accelerator.Backward(perSample));
        var twice = Assert.ThrowsExactly<AccelerateException>(() => accelerator.Backward(once));
        var gone = Assert.ThrowsExactly<AccelerateException>(() => accelerator.Backward(disposed));

        Assert.AreEqual("ACC2241", noGradient.Code);
        StringAssert.Contains(noGradient.Message, "no_grad");
        Assert.AreEqual("ACC2242", notScalar.Code);
        StringAssert.Contains(notScalar.Message, "[4, 1]");
        StringAssert.Contains(notScalar.Message, "loss.mean()");
        Assert.AreEqual("ACC2243", twice.Code);
        StringAssert.Contains(twice.Message, "once per forward pass");
        Assert.AreEqual("ACC2244", gone.Code);
        StringAssert.Contains(gone.Message, "dispose scope");
    }

    [TestMethod]
    public void Split_rows_refuses_a_scalar_with_a_code_and_the_fix()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.SplitRowsBetweenProcesses(torch.tensor(1.0f)));

        Assert.AreEqual("ACC2245", error.Code);
        StringAssert.Contains(error.Message, "unsqueeze(0)");
    }

    [TestMethod]
    public void The_optimizer_does_not_step_and_the_scheduler_does_not_advance_on_accumulation_steps()
    {
        var run = InProcess("batch=16", "accumulation=2", "steps=4", "gamma=0.5");
        var single = InProcess("batch=16", "steps=1");
        var initial = InProcess("batch=16", "steps=0");

        Assert.AreEqual(2L, run["optimizer_steps"]!.GetValue<long>());
        Assert.AreEqual(0.05 * 0.25, run["learning_rate"]!.GetValue<double>(), 1e-12);
        Assert.AreEqual(0L, initial["optimizer_steps"]!.GetValue<long>());
        Assert.AreEqual(1L, single["optimizer_steps"]!.GetValue<long>());
    }

    [TestMethod]
    public void Gather_for_metrics_over_an_epoch_returns_exactly_the_dataset_in_one_process()
    {
        var run = InProcess("scenario=data", "size=11", "batch=4", "epochs=2");

        foreach (var epoch in run["gathered"]!.AsArray())
        {
            var indices = epoch!.AsArray().Select(v => v!.GetValue<long>()).ToList();
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 11).Select(i => (long)i).ToList(), indices);
        }
        var orders = run["read"]!.AsArray().Select(e => string.Join(",", e!.AsArray().Select(v => v!.GetValue<long>()))).ToList();
        Assert.AreNotEqual(orders[0], orders[1], "the shuffle changes per epoch");
        Assert.AreEqual(3L, run["count"]!.GetValue<long>());
    }

    [TestMethod]
    public void Bf16_runs_the_model_in_bf16_with_fp32_masters_and_ends_near_the_fp32_loss()
    {
        var fp32 = InProcess("steps=60", "optimizer=adam", "batch=32");
        var bf16 = InProcess("steps=60", "optimizer=adam", "batch=32", "precision=bf16");

        Assert.AreEqual("BFloat16", bf16["compute_dtype"]!.GetValue<string>());
        Assert.AreEqual("Float32", bf16["master_dtype"]!.GetValue<string>());
        var fp32Loss = Losses(fp32)[^10..].Average();
        var bf16Loss = Losses(bf16)[^10..].Average();
        Assert.IsTrue(bf16Loss < Losses(bf16)[0] * 0.5, $"bf16 trains: {Losses(bf16)[0]} -> {bf16Loss}");
        Assert.IsTrue(Math.Abs(bf16Loss - fp32Loss) <= 0.05 * fp32Loss + 2e-3, $"bf16 loss {bf16Loss} within 5% of fp32 loss {fp32Loss}");
    }

    [TestMethod]
    public void Fp16_skips_the_step_with_an_injected_inf_and_halves_the_loss_scale()
    {
        var clean = InProcess("steps=6", "precision=fp16", "loss_scale=1024");
        var injected = InProcess("steps=6", "precision=fp16", "loss_scale=1024", "inject_inf_at=3");
        var scales = injected["loss_scales"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();

        Assert.AreEqual(6L, clean["optimizer_steps"]!.GetValue<long>());
        Assert.AreEqual(5L, injected["optimizer_steps"]!.GetValue<long>());
        Assert.AreEqual(1L, injected["skipped"]!.GetValue<long>());
        CollectionAssert.AreEqual(new[] { 1024.0, 1024, 1024, 512, 512, 512 }, scales);
        Assert.AreEqual("Float16", injected["compute_dtype"]!.GetValue<string>());
    }

    [TestMethod]
    public void Fp16_without_overflow_tracks_fp32_training()
    {
        var fp32 = InProcess("steps=20", "batch=32");
        var fp16 = InProcess("steps=20", "batch=32", "precision=fp16");

        AssertClose(Parameters(fp32), Parameters(fp16), 2e-2, "fp16 vs fp32 parameters after 20 SGD steps");
    }

    [TestMethod]
    public void Parameters_and_gradients_of_a_prepared_model_stay_the_optimizers_objects()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.Bf16 });
        var (model, loss) = Models.Create("mlp");
        var originals = model.parameters().ToList();
        var optimizer = optim.SGD(model.parameters(), 0.1);
        (model, optimizer) = accelerator.Prepare(model, optimizer);

        Assert.IsTrue(optimizer.parameters().All(p => p.dtype == ScalarType.Float32));
        Assert.IsTrue(model.parameters().All(p => p.dtype == ScalarType.BFloat16));
        Assert.IsTrue(originals.All(p => p.Handle != IntPtr.Zero), "the optimizer's parameters were not disposed");
        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.PrepareOptimizer(optim.SGD(model.parameters(), 0.1)));
        Assert.AreEqual("ACC2204", error.Code);
    }

    [TestMethod]
    public void Clip_grad_norm_returns_the_norm_and_bounds_it()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var (model, lossFunction) = Models.Create("mlp");
        var optimizer = optim.SGD(model.parameters(), 0.1);
        (model, optimizer) = accelerator.Prepare(model, optimizer);
        var inputs = torch.randn(8, 8) * 100;
        accelerator.Backward(lossFunction(model.forward(inputs), torch.zeros(8, 1)));

        var before = accelerator.ClipGradNorm(model.parameters(), 1.0);
        var after = accelerator.ClipGradNorm(model.parameters(), 1.0);
        accelerator.ClipGradValue(model.parameters(), 0.01);

        Assert.IsTrue(before > 1.0, $"norm before clipping {before}");
        Assert.AreEqual(1.0, after, 1e-4);
        Assert.IsTrue(model.parameters().All(p => p.grad!.abs().max().item<float>() <= 0.01f + 1e-7f));
    }

    [TestMethod]
    public void Inside_no_sync_the_optimizer_leaves_the_weights_alone_and_the_next_synchronizing_backward_adds_everything_up()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var (model, lossFunction) = Models.Create("mlp");
        var (reference, _) = Models.Create("mlp");
        var optimizer = optim.SGD(model.parameters(), 0.1);
        var referenceOptimizer = optim.SGD(reference.parameters(), 0.1);
        (model, optimizer) = accelerator.Prepare(model, optimizer);
        var first = (torch.randn(4, 8), torch.randn(4, 1));
        var second = (torch.randn(4, 8), torch.randn(4, 1));
        var before = model.parameters().First().clone();

        using (accelerator.NoSync(model))
        {
            Assert.IsFalse(accelerator.SyncGradients);
            accelerator.Backward(lossFunction(model.forward(first.Item1), first.Item2));
            optimizer.step();
            optimizer.zero_grad();
        }
        Assert.IsTrue(accelerator.SyncGradients);
        Assert.IsTrue(model.parameters().First().allclose(before), "no step inside NoSync");
        accelerator.Backward(lossFunction(model.forward(second.Item1), second.Item2));
        optimizer.step();

        lossFunction(reference.forward(first.Item1), first.Item2).backward();
        lossFunction(reference.forward(second.Item1), second.Item2).backward();
        referenceOptimizer.step();
        AssertClose(reference.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(),
            model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(), 1e-6, "NoSync then sync equals two backward passes then one step");
    }

    [TestMethod]
    public void Set_seed_makes_draws_repeat()
    {
        // That a device-specific seed adds the rank is checked on two ranks (DistributedTrainingTests).
        var accelerator = new Accelerator(new AcceleratorOptions());

        accelerator.SetSeed(11);
        var a = torch.rand(3);
        torch.rand(3);
        accelerator.SetSeed(11);
        var b = torch.rand(3);
        accelerator.SetSeed(12);
        var c = torch.rand(3);

        Assert.IsTrue(a.allclose(b, 0, 0), "the same seed, the same draws");
        Assert.IsFalse(a.allclose(c), "another seed, other draws");
    }

    [TestMethod]
    public void Single_process_collectives_return_the_local_values()
    {
        var accelerator = new Accelerator(new AcceleratorOptions());
        var t = torch.arange(6, dtype: ScalarType.Float32).reshape(3, 2);

        Assert.IsTrue(accelerator.Gather(t).allclose(t));
        Assert.IsTrue(accelerator.Reduce(t, Accelerate.Distributed.ReduceOp.Sum).allclose(t));
        Assert.AreEqual(3L, accelerator.PadAcrossProcesses(t).shape[0]);
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, accelerator.SplitBetweenProcesses(new[] { 1, 2, 3 }).ToArray());
        Assert.HasCount(1, accelerator.Gather(torch.tensor(5f)).shape);
        using (accelerator.MainProcessFirst()) { }
        accelerator.WaitForEveryone();
    }
}
