using Accelerate;
using TorchSharp;
using static TorchSharp.torch;

namespace Regression;

/// <summary>Fits y = 3·x₀ − 2·x₁ + 0.5·x₂·x₃ + 1 with a small MLP; every process trains on its own share of the rows.</summary>
public static class Train
{
    [TrainingFunction]
    public static void Run(Accelerator accelerator, string[] args)
    {
        var epochs = args.Length > 0 ? int.Parse(args[0]) : 30;

        // The same synthetic data on every process; each one then takes its share of the rows.
        random.manual_seed(1234);
        var x = randn(2048, 4);
        var y = (3 * x[.., 0] - 2 * x[.., 1] + 0.5 * x[.., 2] * x[.., 3] + 1).unsqueeze(1) + 0.01 * randn(2048, 1);
        var inputs = accelerator.SplitRowsBetweenProcesses(x).to(accelerator.Device);
        var targets = accelerator.SplitRowsBetweenProcesses(y).to(accelerator.Device);

        var network = nn.Sequential(("hidden", nn.Linear(4, 64)), ("act", nn.Tanh()), ("out", nn.Linear(64, 1)));
        var (model, optimizer) = accelerator.Prepare(network, optim.Adam(network.parameters(), lr: 0.01));

        var loss = 0f;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            for (var start = 0; start < (int)inputs.shape[0]; start += 64)
            {
                var end = Math.Min(start + 64, (int)inputs.shape[0]);
                optimizer.zero_grad();
                accelerator.Backward(nn.functional.mse_loss(model.forward(inputs[start..end]), targets[start..end]));
                optimizer.step();
            }
            using (no_grad())
                loss = accelerator.Reduce(nn.functional.mse_loss(model.forward(inputs), targets), Accelerate.Distributed.ReduceOp.Average).item<float>();
            if (epoch % 10 == 0 || epoch == epochs) accelerator.Print($"epoch {epoch}: loss {loss:F5}");
        }

        // Every process prints the same checksum: the processes stayed in sync.
        using (no_grad())
        {
            var checksum = model.parameters().Select(p => p.abs().sum().item<float>()).Sum();
            Console.WriteLine($"process {accelerator.ProcessIndex}/{accelerator.NumProcesses} done: loss {loss:F5}, parameter checksum {checksum:F4}");
        }
    }
}
