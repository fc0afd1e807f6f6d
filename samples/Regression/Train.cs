using Accelerate;
using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Regression;

/// <summary>Fits y = 3·x₀ − 2·x₁ + 0.5·x₂·x₃ + 1 with a small MLP; every rank trains on its own share of the rows.</summary>
public static class Train
{
    [TrainingFunction]
    public static void Run(Accelerator accelerator, string[] args)
    {
        var epochs = args.Length > 0 ? int.Parse(args[0]) : 30;
        var rank = accelerator.ProcessIndex;
        var world = accelerator.NumProcesses;

        // The same data and the same initial weights on every rank; each rank then takes rows rank, rank+world, ...
        random.manual_seed(1234);
        var x = randn(2048, 4);
        var y = (3 * x[.., 0] - 2 * x[.., 1] + 0.5 * x[.., 2] * x[.., 3] + 1).unsqueeze(1) + 0.01 * randn(2048, 1);
        var shard = arange(rank, 2048, world);
        var (inputs, targets) = (x.index_select(0, shard), y.index_select(0, shard));

        var model = nn.Sequential(("hidden", nn.Linear(4, 64)), ("act", nn.Tanh()), ("out", nn.Linear(64, 1)));
        var group = accelerator.Group;
        if (group is not null)
            foreach (var p in model.parameters()) group.Broadcast(p, source: 0);
        var optimizer = optim.Adam(model.parameters(), lr: 0.01);

        var loss = tensor(0f);
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            for (var start = 0; start < (int)inputs.shape[0]; start += 64)
            {
                using var scope = NewDisposeScope();
                var end = Math.Min(start + 64, (int)inputs.shape[0]);
                optimizer.zero_grad();
                var batchLoss = nn.functional.mse_loss(model.forward(inputs[start..end]), targets[start..end]);
                batchLoss.backward();
                if (group is not null)
                    foreach (var p in model.parameters()) group.AllReduce(p.grad!, ReduceOp.Average);
                optimizer.step();
            }
            using (no_grad())
                loss = nn.functional.mse_loss(model.forward(inputs), targets).MoveToOuterDisposeScope();
            if (accelerator.IsMainProcess && (epoch % 10 == 0 || epoch == epochs))
                Console.WriteLine($"epoch {epoch}: loss {loss.item<float>():F5}");
        }

        // Every rank prints the same checksum when the ranks stayed in sync.
        using (no_grad())
        {
            var checksum = model.parameters().Select(p => p.abs().sum().item<float>()).Sum();
            Console.WriteLine($"rank {rank}/{world} done: final loss {loss.item<float>():F5}, parameter checksum {checksum:F4}");
        }
    }
}
