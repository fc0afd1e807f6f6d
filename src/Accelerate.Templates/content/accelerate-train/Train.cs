using Accelerate;
using Accelerate.Tracking;
using TorchSharp;
using static TorchSharp.torch;

namespace AccelerateTrain;

public static class Train
{
    /// <summary>Fits a line to noisy points; every process trains on its own share of them.</summary>
    [TrainingFunction]
    public static void Run(Accelerator accelerator, string[] args)
    {
        random.manual_seed(42);
        var x = randn(1024, 1);
        var y = 2 * x + 1 + 0.05 * randn(1024, 1);
        var inputs = accelerator.SplitRowsBetweenProcesses(x).to(accelerator.Device);
        var targets = accelerator.SplitRowsBetweenProcesses(y).to(accelerator.Device);

        var network = nn.Linear(1, 1);
        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), learningRate: 0.1));
        // Metrics go to TensorBoard event files under runs/ (tensorboard --logdir runs), with the hyper-parameters.
        accelerator.InitTrackers("AccelerateTrain", new Dictionary<string, object?> { ["lr"] = 0.1, ["steps"] = 100 });

        for (var step = 0; step < 100; step++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(inputs), targets);
            accelerator.Backward(loss);
            optimizer.step();
            // Every process calls Log: Mean averages the processes' losses into the one number recorded.
            if (step % 10 == 9) accelerator.Log(new Dictionary<string, double> { ["loss"] = loss.ToSingle() }, step: step + 1, reduce: MetricReduction.Mean);
        }

        // The fp32 weights (under --mixed_precision fp16/bf16 the model itself holds reduced-precision copies).
        var weights = accelerator.GetStateDict(model);
        Console.WriteLine($"process {accelerator.ProcessIndex}/{accelerator.NumProcesses}: weight {weights["weight"].item<float>():F3}, bias {weights["bias"].item<float>():F3}");
    }
}
