using Accelerate;
using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace AccelerateSelfTest;

/// <summary>
/// The program <c>accelerate test</c> launches: every rank checks the rendezvous, each collective and a
/// few training steps against the same steps in one process, prints one line per check, and exits 0
/// only when every check passed on every rank.
/// </summary>
public static class SelfTest
{
    [TrainingFunction]
    public static int Run(Accelerator accelerator, string[] args)
    {
        var rank = accelerator.ProcessIndex;
        var n = accelerator.NumProcesses;
        var failures = new List<string>();
        void Check(string name, Func<string?> check)
        {
            string? problem;
            try { problem = check(); }
            catch (Exception e) when (e is not OutOfMemoryException) { problem = e.GetType().Name + ": " + e.Message; }
            if (problem is null) accelerator.Print($"check {name}: ok");
            else
            {
                failures.Add(name);
                Console.WriteLine($"check {name}: FAILED on process {rank}/{n}: {problem}");
            }
        }

        Check("rendezvous", () => accelerator.Group is null && n > 1 ? "no process group although the world has several processes"
            : (accelerator.Group?.AllGatherObject(rank) ?? [rank]).SequenceEqual(Enumerable.Range(0, n)) ? null : "the ranks do not see each other in order");
        Check("all_reduce", () =>
        {
            using var sum = accelerator.Reduce(tensor(new[] { rank + 1.0f }), ReduceOp.Sum);
            using var max = accelerator.Reduce(tensor(new[] { rank + 1.0f }), ReduceOp.Max);
            return sum.item<float>() == n * (n + 1) / 2f && max.item<float>() == n ? null : $"sum {sum.item<float>()}, max {max.item<float>()}";
        });
        Check("all_gather", () =>
        {
            using var gathered = accelerator.Gather(full(new long[] { rank + 1, 2 }, (float)rank));
            var expected = Enumerable.Range(0, n).SelectMany(r => Enumerable.Repeat((float)r, 2 * (r + 1))).ToArray();
            return gathered.data<float>().ToArray().SequenceEqual(expected) ? null : "rows arrived out of order or changed";
        });
        Check("broadcast", () =>
        {
            if (accelerator.Group is null) return null;
            using var value = tensor(new[] { rank == 0 ? 42.0f : -1.0f });
            accelerator.Group.Broadcast(value);
            var text = accelerator.Group.BroadcastObject(rank == 0 ? "from rank 0" : "wrong");
            return value.item<float>() == 42 && text == "from rank 0" ? null : $"got {value.item<float>()} and '{text}'";
        });
        Check("reduce_scatter", () =>
        {
            if (accelerator.Group is null) return null;
            using var input = arange(n * 2, dtype: ScalarType.Float32);
            using var chunk = accelerator.Group.ReduceScatter(input);
            return chunk.data<float>().ToArray().SequenceEqual(new[] { 2f * rank * n, (2f * rank + 1) * n }) ? null : "wrong chunk";
        });
        Check("barrier", () =>
        {
            accelerator.WaitForEveryone();
            return null;
        });
        Check("training", () => Training(accelerator));

        var failedAnywhere = accelerator.Group?.AllGatherObject(failures.Count).Sum() ?? failures.Count;
        accelerator.Print(failedAnywhere == 0
            ? $"accelerate test: all checks passed on {n} process(es) ({accelerator.Group?.Backend ?? "single process"})"
            : $"accelerate test: {failedAnywhere} check(s) failed");
        return failedAnywhere == 0 ? 0 : 1;
    }

    /// <summary>Five SGD steps of a linear model with every rank on its share of the rows must end where one process ends on all of them.</summary>
    private static string? Training(Accelerator accelerator)
    {
        const int steps = 5;
        manual_seed(3);
        var x = randn(48, 4);
        var y = x.matmul(tensor(new[] { 1.0f, -2.0f, 0.5f, 3.0f }).view(4, 1)) + 0.1f;

        // One process: the loss of each rank's share, averaged, as averaging the ranks' gradients does.
        manual_seed(5);
        var reference = nn.Linear(4, 1);
        var referenceOptimizer = optim.SGD(reference.parameters(), 0.1);
        var shares = x.tensor_split(accelerator.NumProcesses).Zip(y.tensor_split(accelerator.NumProcesses)).ToArray();
        for (var step = 0; step < steps; step++)
        {
            referenceOptimizer.zero_grad();
            var loss = shares.Select(s => nn.functional.mse_loss(reference.forward(s.First), s.Second)).Aggregate((a, b) => a + b) / shares.Length;
            loss.backward();
            referenceOptimizer.step();
        }

        manual_seed(5);
        var network = nn.Linear(4, 1);
        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), 0.1));
        var inputs = accelerator.SplitRowsBetweenProcesses(x).to(accelerator.Device);
        var targets = accelerator.SplitRowsBetweenProcesses(y).to(accelerator.Device);
        for (var step = 0; step < steps; step++)
        {
            optimizer.zero_grad();
            accelerator.Backward(nn.functional.mse_loss(model.forward(inputs), targets));
            optimizer.step();
        }

        var trained = accelerator.GetStateDict(model);
        var expected = reference.state_dict();
        var worst = expected.Keys.Max(k => (trained[k].cpu() - expected[k]).abs().max().item<float>());
        return worst <= 1e-5f ? null : $"the parameters differ from one process's by {worst:G3} after {steps} steps";
    }
}
