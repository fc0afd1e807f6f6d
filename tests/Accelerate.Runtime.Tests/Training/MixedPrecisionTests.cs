using TorchSharp;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// The loop a user writes for fp32, run unchanged under fp16 and bf16 in one process: tensors the
/// accelerator hands out arrive in the compute dtype, and the prepared model takes fp32 tensors too.
/// </summary>
[TestClass]
public sealed class MixedPrecisionTests
{
    [TestMethod]
    [DataRow("bf16", "BFloat16")]
    [DataRow("fp16", "Float16")]
    public void Rows_split_between_processes_arrive_in_the_compute_dtype_and_the_template_loop_fits_the_line(string precision, string dtype)
    {
        var run = InProcess("scenario=line", "precision=" + precision);

        Assert.AreEqual(dtype, run["input_dtype"]!.GetValue<string>());
        Assert.AreEqual(dtype, run["output_dtype"]!.GetValue<string>(), "an input in the compute dtype gives an output in it, to match targets that came the same way");
        AssertFitsTheLine(run);
    }

    [TestMethod]
    [DataRow("bf16", "linear", "call")]
    [DataRow("fp16", "linear", "call")]
    [DataRow("bf16", "sequential", "forward")]
    [DataRow("fp16", "sequential", "forward")]
    [DataRow("bf16", "sequential", "call")]
    public void A_prepared_model_takes_fp32_tensors_and_hands_back_fp32(string precision, string model, string invoke)
    {
        var run = InProcess("scenario=line", "inputs=raw", "precision=" + precision, "model=" + model, "invoke=" + invoke);

        Assert.AreEqual("Float32", run["input_dtype"]!.GetValue<string>());
        Assert.AreEqual("Float32", run["output_dtype"]!.GetValue<string>());
        if (model == "linear") AssertFitsTheLine(run);
        else Assert.IsTrue(run["loss"]!.GetValue<float>() < 0.05f, $"the MLP fits the line: loss {run["loss"]}");
    }

    [TestMethod]
    [DataRow(MixedPrecision.Bf16, ScalarType.BFloat16)]
    [DataRow(MixedPrecision.Fp16, ScalarType.Float16)]
    public void A_model_prepared_inside_a_dispose_scope_keeps_its_reduced_precision_copies_after_the_scope(MixedPrecision precision, ScalarType dtype)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = precision, GradScaler = new GradScalerOptions { InitScale = 1024 } });
        var network = nn.Linear(2, 1);
        var optimizer = optim.SGD(network.parameters(), 0.1);
        using (torch.NewDisposeScope()) accelerator.Prepare(network, optimizer);
        using var input = torch.randn(4, 2);

        optimizer.zero_grad();
        accelerator.Backward(network.call(input).mean());
        optimizer.step();

        Assert.IsFalse(network.weight!.IsInvalid, "the fp16/bf16 copy outlived the scope Prepare ran in");
        Assert.AreEqual(dtype, network.weight.dtype);
        Assert.AreEqual(1L, accelerator.Step);
    }

    internal static void AssertFitsTheLine(System.Text.Json.Nodes.JsonObject run)
    {
        var parameters = Parameters(run);
        Assert.AreEqual(2.0, parameters[0], 0.05, "weight");
        Assert.AreEqual(1.0, parameters[1], 0.05, "bias");
        Assert.IsTrue(run["loss"]!.GetValue<float>() < 0.01f, $"loss {run["loss"]}");
    }
}
