using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// What DDP and HF's <c>no_sync</c> do, across ranks that see different data: a NoSync scope naming
/// one of two models, TriggerSyncInBackward inside it, buffers broadcast or not, parameters some or
/// no rank used. Every rank's inputs follow from its rank, so a test can compute the one-process
/// reference with <see cref="Batch"/>.
/// </summary>
public static class DdpScenario
{
    public static JsonObject Run(IReadOnlyDictionary<string, string> args)
    {
        var result = new JsonObject();
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true });
        result["rank"] = accelerator.ProcessIndex;
        NoSyncOfOneModel(accelerator, result);
        foreach (var broadcast in new[] { true, false })
            result[broadcast ? "buffers_broadcast" : "buffers_local"] = BatchNormBuffers(broadcast);
        foreach (var find in new[] { true, false })
            result[find ? "find_unused" : "unused_as_zero"] = UnusedParameters(find);
        if (Get(args, "end", "true") == "true") accelerator.EndTraining();
        return result;
    }

    /// <summary>Batch <paramref name="index"/> of rank <paramref name="rank"/>: 3 rows of 4 features, different on every rank.</summary>
    public static Tensor Batch(int rank, int index)
    {
        var generator = new Generator((ulong)(100 + 10 * rank + index));
        return torch.randn(new long[] { 3, 4 }, generator: generator);
    }

    /// <summary>The two models of the NoSync runs, with the same weights on every rank.</summary>
    public static (Linear first, Linear second) TwoModels()
    {
        torch.manual_seed(21);
        return (nn.Linear(4, 1), nn.Linear(4, 1));
    }

    public static Tensor Loss(Linear model, Tensor batch) => model.call(batch).pow(2).sum();

    private static void NoSyncOfOneModel(Accelerator accelerator, JsonObject result)
    {
        var rank = accelerator.ProcessIndex;
        var (first, second) = TwoModels();
        accelerator.Prepare(first, second);

        // Batch 0 inside NoSync(first): first's gradients stay here, second's are averaged.
        using (accelerator.NoSync(first))
        {
            accelerator.Backward(Loss(first, Batch(rank, 0)) + Loss(second, Batch(rank, 0)));
            result["sync_gradients_inside"] = accelerator.SyncGradients;
            result["first_grad_inside_is_null"] = first.weight!.grad is null;
            result["second_grad_inside"] = Floats(second.weight!.grad!);
        }
        // Batch 1 outside: first's gradients of both batches are averaged together.
        second.zero_grad();
        accelerator.Backward(Loss(first, Batch(rank, 1)));
        result["first_grad_after"] = Floats(first.weight!.grad!);
        first.zero_grad();
        second.zero_grad();

        // Batches 2 and 3 inside NoSync(first); the last backward is made to synchronize.
        using (accelerator.NoSync(first))
        {
            accelerator.Backward(Loss(first, Batch(rank, 2)));
            using (accelerator.TriggerSyncInBackward(first))
            {
                accelerator.Backward(Loss(first, Batch(rank, 3)));
                result["triggered_grad"] = Floats(first.weight!.grad!);
            }
        }
    }

    /// <summary>Three SGD steps of a BatchNorm model on rank-dependent data; the running mean each rank ends with.</summary>
    private static JsonArray BatchNormBuffers(bool broadcast)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, DistributedDataParallel = new DistributedDataParallelOptions { BroadcastBuffers = broadcast } });
        torch.manual_seed(5);
        var model = nn.Sequential(("fc", nn.Linear(4, 4)), ("bn", nn.BatchNorm1d(4)), ("out", nn.Linear(4, 1)));
        var optimizer = optim.SGD(model.parameters(), 0.1);
        accelerator.Prepare(model, optimizer);
        for (var step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            using var batch = Batch(accelerator.ProcessIndex, step) * (1 + accelerator.ProcessIndex);
            accelerator.Backward(model.call(batch).pow(2).mean());
            optimizer.step();
        }
        var bn = (BatchNorm1d)model.named_children().Single(c => c.name == "bn").module;
        return Floats(bn.running_mean!);
    }

    /// <summary>
    /// A stem and three branches after it: rank 0 uses <c>a</c>, rank 1 uses <c>b</c>, no rank uses
    /// <c>c</c>. Registered c, stem, a, b, so buckets go out in the order b, a, stem, c: during backward
    /// rank 1's <c>b</c> is ready first, rank 0's <c>a</c> must wait for <c>b</c>.
    /// </summary>
    public sealed class Branches : nn.Module<Tensor, Tensor>
    {
        public readonly Linear c, stem, a, b;

        public Branches() : base(nameof(Branches))
        {
            torch.manual_seed(9);
            c = nn.Linear(4, 1);
            stem = nn.Linear(4, 4);
            a = nn.Linear(4, 1);
            b = nn.Linear(4, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => a.call(stem.call(input));

        /// <summary>The loss of rank <paramref name="rank"/>: through <c>a</c> on rank 0, <c>b</c> elsewhere.</summary>
        public Tensor Loss(int rank) => (rank == 0 ? a : b).call(stem.call(Batch(rank, 0))).pow(2).sum();

        public Dictionary<string, Tensor?> Gradients() => new()
        {
            ["a"] = a.weight!.grad, ["b"] = b.weight!.grad, ["stem"] = stem.weight!.grad, ["c"] = c.weight!.grad,
        };
    }

    /// <summary>One step with momentum and weight decay; what each branch's gradient and weights became.</summary>
    private static JsonObject UnusedParameters(bool findUnused)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, DistributedDataParallel = new DistributedDataParallelOptions { FindUnusedParameters = findUnused } });
        var rank = accelerator.ProcessIndex;
        var model = new Branches();
        var optimizer = optim.SGD(model.parameters(), 0.1, momentum: 0.9, weight_decay: 0.1);
        accelerator.Prepare(model, optimizer);
        var cBefore = Floats(model.c.weight!);
        optimizer.zero_grad();
        accelerator.Backward(model.Loss(rank));
        var record = new JsonObject { ["overlapped_buckets"] = accelerator.OverlappedBuckets };
        foreach (var (name, grad) in model.Gradients()) record[name] = grad is null ? null : Floats(grad);
        optimizer.step();
        record["c_unchanged"] = JsonNode.DeepEquals(cBefore, Floats(model.c.weight!));
        return record;
    }

    private static JsonArray Floats(Tensor t) => new(t.detach().to(ScalarType.Float32).flatten().data<float>().ToArray().Select(v => (JsonNode)v).ToArray());

    private static string Get(IReadOnlyDictionary<string, string> args, string key, string fallback) =>
        args.TryGetValue(key, out var value) ? value : fallback;
}
