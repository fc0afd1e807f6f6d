using Accelerate;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Regression;

/// <summary>
/// Fits y = 3·x₀ − 2·x₁ + 0.5·x₂·x₃ + 1 with a small MLP, written as the usual training loop:
/// a data set, a data loader, an optimizer and a learning-rate schedule, all passed through
/// <see cref="Accelerator.Prepare{TModule, TOptimizer, T, S}(TModule, TOptimizer, DataLoader{T, S}, optim.lr_scheduler.LRScheduler)"/>.
/// The same code runs on one process (F5, <c>dotnet run</c>) and on N (<c>dotnet run -p:NumProcesses=N</c>):
/// each process then reads its share of the batches and gradients are averaged across them.
/// The loss of each epoch goes to TensorBoard (<c>tensorboard --logdir runs</c>) with the run's hyper-parameters.
/// </summary>
public static class Train
{
    [TrainingFunction]
    public static void Run(Accelerator accelerator, string[] args)
    {
        var epochs = args.Length > 0 ? int.Parse(args[0]) : 30;

        random.manual_seed(1234);
        var network = nn.Sequential(("hidden", nn.Linear(4, 64)), ("act", nn.Tanh()), ("out", nn.Linear(64, 1)));
        var optimizer = optim.Adam(network.parameters(), lr: 0.01);
        var loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticRegression(2048), batchSize: 64, Collate, shuffle: true, seed: 1);
        var scheduler = optim.lr_scheduler.StepLR(optimizer, step_size: 320, gamma: 0.7);
        (var model, optimizer, loader, scheduler) = accelerator.Prepare(network, optimizer, loader, scheduler);
        accelerator.InitTrackers("regression", new Dictionary<string, object?> { ["lr"] = 0.01, ["batch_size"] = 64, ["epochs"] = epochs });

        var loss = 0f;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            var sum = zeros(1, device: accelerator.Device);
            var batches = 0;
            foreach (var (inputs, targets) in loader)
            {
                optimizer.zero_grad();
                var batchLoss = nn.functional.mse_loss(model.forward(inputs), targets);
                accelerator.Backward(batchLoss);
                optimizer.step();
                scheduler.step();
                sum.add_(batchLoss.detach());
                batches++;
            }
            // The mean loss over every process's batches, the same number on every process.
            loss = accelerator.Reduce(sum / batches, Accelerate.Distributed.ReduceOp.Average).item<float>();
            accelerator.Log(new Dictionary<string, double> { ["loss"] = loss }, step: epoch);
            if (epoch % 10 == 0 || epoch == epochs) accelerator.Print($"epoch {epoch}: loss {loss:F5}");
        }

        // Every process prints the same checksum: the processes stayed in sync. GetStateDict gives the
        // fp32 weights also under --mixed_precision fp16/bf16, where the model holds reduced-precision copies.
        using (no_grad())
        {
            var checksum = accelerator.GetStateDict(model).Values.Select(p => p.abs().sum().item<float>()).Sum();
            Console.WriteLine($"process {accelerator.ProcessIndex}/{accelerator.NumProcesses} done: loss {loss:F5}, parameter checksum {checksum:F4}");
        }
    }

    private static (Tensor, Tensor) Collate(IEnumerable<(Tensor Input, Tensor Target)> rows, Device device) =>
        (stack(rows.Select(r => r.Input)).to(device), stack(rows.Select(r => r.Target)).to(device));
}
