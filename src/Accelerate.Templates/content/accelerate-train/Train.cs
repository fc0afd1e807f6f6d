using Accelerate;
using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace AccelerateTrain;

public static class Train
{
    /// <summary>Fits a line to noisy points; every process trains on its own share of them.</summary>
    [TrainingFunction]
    public static void Run(Accelerator accelerator, string[] args)
    {
        var (rank, world) = (accelerator.ProcessIndex, accelerator.NumProcesses);
        random.manual_seed(42);
        var x = randn(1024, 1);
        var y = 2 * x + 1 + 0.05 * randn(1024, 1);
        var shard = arange(rank, 1024, world);
        var (inputs, targets) = (x.index_select(0, shard), y.index_select(0, shard));

        var model = nn.Linear(1, 1);
        if (accelerator.Group is { } group)
            foreach (var p in model.parameters()) group.Broadcast(p, source: 0);
        var optimizer = optim.SGD(model.parameters(), learningRate: 0.1);

        for (var step = 0; step < 100; step++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(inputs), targets);
            loss.backward();
            if (accelerator.Group is { } g)
                foreach (var p in model.parameters()) g.AllReduce(p.grad!, ReduceOp.Average);
            optimizer.step();
        }

        Console.WriteLine($"rank {rank}/{world}: weight {model.weight!.item<float>():F3}, bias {model.bias!.item<float>():F3}");
    }
}
