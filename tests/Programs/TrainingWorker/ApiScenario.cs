using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// The Accelerator's helpers a user of HF accelerate reaches for, across ranks: the per-process
/// runners, the distributed type, gathering nested structures and objects. One record per rank.
/// </summary>
public static class ApiScenario
{
    public static JsonObject Run(IReadOnlyDictionary<string, string> args)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true });
        var rank = accelerator.ProcessIndex;
        var ran = new JsonArray();
        if (accelerator.OnMainProcess(() => { })) ran.Add("main");
        if (accelerator.OnLocalMainProcess(() => { })) ran.Add("local_main");
        if (accelerator.OnLastProcess(() => { })) ran.Add("last");
        if (accelerator.OnProcess(1, () => { })) ran.Add("process_1");
        if (accelerator.OnLocalProcess(1, () => { })) ran.Add("local_process_1");
        var result = new JsonObject
        {
            ["rank"] = rank,
            ["ran"] = ran,
            ["main_result"] = accelerator.OnMainProcess(() => "from rank " + rank),
            ["last_result"] = accelerator.OnLastProcess(() => rank + 100),
            ["distributed_type"] = accelerator.DistributedType.ToString(),
        };
        Gathering(accelerator, result);
        SkippingAndSaving(accelerator, result, args["dir"]);
        result["sync_each_batch"] = Accumulating(syncEachBatch: true);
        result["sync_at_step"] = Accumulating(syncEachBatch: false);
        accelerator.EndTraining();
        return result;
    }

    /// <summary>Nested structures through Gather, Reduce, PadAcrossProcesses and GatherForMetrics; objects through GatherObject.</summary>
    private static void Gathering(Accelerator accelerator, JsonObject result)
    {
        var rank = accelerator.ProcessIndex;
        var nested = new Dictionary<string, object>
        {
            ["logits"] = torch.full(2, 3, rank + 1.0f),
            ["labels"] = new List<Tensor> { torch.tensor(new long[] { rank * 10 }) },
        };
        var gathered = accelerator.Gather(nested);
        result["gathered_logits"] = Floats((Tensor)gathered["logits"]);
        result["gathered_logits_shape"] = Shape((Tensor)gathered["logits"]);
        result["gathered_labels"] = Longs(((List<Tensor>)gathered["labels"])[0]);
        var (sum, max) = accelerator.Reduce((torch.tensor(rank + 1.0f), torch.tensor(rank + 1.0f)));
        result["reduced_sum"] = sum.ToSingle();
        var reducedMax = accelerator.Reduce(new[] { torch.tensor(rank + 1.0f) }, Accelerate.Distributed.ReduceOp.Max);
        result["reduced_max"] = reducedMax[0].ToSingle();
        var padded = accelerator.PadAcrossProcesses(new Dictionary<string, Tensor> { ["rows"] = torch.ones(rank + 1, 2), ["cols"] = torch.ones(1, 3 - rank) }, padIndex: -1);
        result["padded_rows_shape"] = Shape(padded["rows"]);
        var paddedCols = accelerator.PadAcrossProcesses(new List<Tensor> { torch.ones(1, 3 - rank) }, dim: 1, padIndex: -1);
        result["padded_cols"] = Floats(paddedCols[0]);
        var objects = accelerator.GatherObject(new Prediction(rank, "rank " + rank, new List<double> { rank / 2.0 }));
        result["objects"] = new JsonArray(objects.Select(o => (JsonNode)$"{o.Index}/{o.Label}/{o.Scores[0]}").ToArray());

        // 5 samples, batch 2, 2 ranks: the last step pads rank 1 with a repeated sample.
        var loader = accelerator.PrepareDataLoader(new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset("index", 5), 2, SyntheticDataset.Collate, shuffle: false));
        var inputs = new JsonArray();
        var targets = new JsonArray();
        var asObjects = new JsonArray();
        foreach (var batch in loader)
        {
            var (input, target) = accelerator.GatherForMetrics(batch);
            foreach (var v in input.data<float>().ToArray()) inputs.Add(v);
            foreach (var v in target.data<long>().ToArray()) targets.Add(v);
            foreach (var v in accelerator.GatherForMetrics(batch.Item2.data<long>().ToArray())) asObjects.Add(v);
        }
        result["metrics_inputs"] = inputs;
        result["metrics_targets"] = targets;
        result["metrics_objects"] = asObjects;
    }

    /// <summary>SkipFirstBatches on each rank's share; Save on the main process only; the state hooks on every rank.</summary>
    private static void SkippingAndSaving(Accelerator accelerator, JsonObject result, string directory)
    {
        var loader = accelerator.PrepareDataLoader(new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset("index", 10), 2, SyntheticDataset.Collate, shuffle: false));
        var skipped = new JsonArray();
        foreach (var (_, targets) in accelerator.SkipFirstBatches(loader, 1))
            foreach (var v in targets.data<long>().ToArray()) skipped.Add(v);
        result["skipped_read"] = skipped;

        result["saved_here"] = accelerator.Save(new Prediction(accelerator.ProcessIndex, "saved", new List<double>()), Path.Combine(directory, "saved.json"));
        var model = nn.Linear(2, 1);
        accelerator.PrepareModel(model);
        var hooks = new JsonArray();
        using var save = accelerator.RegisterSaveStateHook((models, folder) => hooks.Add($"save {models.Count} {Path.GetFileName(folder).Split('.')[0]}"));
        using var load = accelerator.RegisterLoadStateHook((models, folder) => hooks.Add($"load {models.Count} {Path.GetFileName(folder)}"));
        accelerator.LoadState(accelerator.SaveState(Path.Combine(directory, "hooked")));
        result["hooks"] = hooks;
    }

    /// <summary>Two batches accumulated into one step; reports the time spent averaging after the first and the parameters after the step.</summary>
    private static JsonObject Accumulating(bool syncEachBatch)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, GradientAccumulationSteps = 2, SyncEachBatch = syncEachBatch, OverlapGradientSync = false });
        var rank = accelerator.ProcessIndex;
        torch.manual_seed(5);
        var model = nn.Linear(4, 1);
        var optimizer = optim.SGD(model.parameters(), 0.1);
        accelerator.Prepare(model, optimizer);
        var record = new JsonObject();
        for (var batch = 0; batch < 2; batch++)
        {
            using (accelerator.Accumulate(model))
            {
                accelerator.Backward(model.call(torch.full(3, 4, rank + batch + 1.0f)).pow(2).sum());
                optimizer.step();
                optimizer.zero_grad();
            }
            if (batch == 0) record["synced_after_first_batch"] = accelerator.GradientSyncTime > TimeSpan.Zero;
        }
        record["parameters"] = new JsonArray(model.parameters().SelectMany(p => p.data<float>().ToArray()).Select(v => (JsonNode)v).ToArray());
        return record;
    }

    public sealed record Prediction(int Index, string Label, List<double> Scores);

    private static JsonArray Floats(Tensor t) => new(t.flatten().data<float>().ToArray().Select(v => (JsonNode)v).ToArray());

    private static JsonArray Longs(Tensor t) => new(t.flatten().data<long>().ToArray().Select(v => (JsonNode)v).ToArray());

    private static JsonArray Shape(Tensor t) => new(t.shape.Select(d => (JsonNode)d).ToArray());
}
