using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// The runs the Accelerator tests compare, written as a user writes the seed loop. Arguments are
/// <c>key=value</c> pairs; every run returns a JSON record of what it saw and where it ended.
/// </summary>
public static class Scenarios
{
    public static JsonObject Run(IReadOnlyDictionary<string, string> args) => Get(args, "scenario", "train") switch
    {
        "data" => Data(args),
        _ => Train(args),
    };

    public static Dictionary<string, string> Parse(IEnumerable<string> args) =>
        args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "true");

    /// <summary>Trains a model with the seed loop and reports losses and final parameters.</summary>
    public static JsonObject Train(IReadOnlyDictionary<string, string> args)
    {
        var kind = Get(args, "model", "mlp");
        var steps = int.Parse(Get(args, "steps", "20"), CultureInfo.InvariantCulture);
        var batch = int.Parse(Get(args, "batch", "32"), CultureInfo.InvariantCulture);
        var size = long.Parse(Get(args, "size", "160"), CultureInfo.InvariantCulture);
        var precision = Enum.Parse<MixedPrecision>(Get(args, "precision", "No"), ignoreCase: true);
        var accumulation = int.Parse(Get(args, "accumulation", "1"), CultureInfo.InvariantCulture);
        var explicitAccumulate = Get(args, "accumulate_scope", "false") == "true";
        var injectInfAt = int.Parse(Get(args, "inject_inf_at", "-1"), CultureInfo.InvariantCulture);
        var saveAt = int.Parse(Get(args, "save_at", "-1"), CultureInfo.InvariantCulture);
        var checkpoint = args.TryGetValue("checkpoint", out var c) ? c : null;
        var resume = Get(args, "resume", "false") == "true";

        var accelerator = new Accelerator(new AcceleratorOptions
        {
            MixedPrecision = precision,
            GradientAccumulationSteps = accumulation,
            Cpu = true,
            InitialLossScale = double.Parse(Get(args, "loss_scale", "65536"), CultureInfo.InvariantCulture),
            SplitBatches = Get(args, "split", "false") == "true",
        });
        var (model, lossFunction) = Models.Create(kind);
        var optimizer = Models.Optimizer(Get(args, "optimizer", "sgd"), model.parameters());
        var loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset(kind, size), batch, SyntheticDataset.Collate, shuffle: Get(args, "shuffle", "true") == "true", seed: 3);
        var scheduler = optim.lr_scheduler.StepLR(optimizer, 1, double.Parse(Get(args, "gamma", "1.0"), CultureInfo.InvariantCulture));
        (model, optimizer, loader, scheduler) = accelerator.Prepare(model, optimizer, loader, scheduler);
        if (resume && checkpoint is not null) accelerator.LoadState(checkpoint);

        var losses = new JsonArray();
        var batches = resume ? (int)accelerator.Step : 0;
        var lossScales = new JsonArray();
        while (batches < steps)
        {
            foreach (var (inputs, targets) in loader)
            {
                using var scope = explicitAccumulate ? accelerator.Accumulate(model) : null;
                optimizer.zero_grad();
                var loss = lossFunction(model.forward(inputs), targets);
                if (batches == injectInfAt) loss = loss * double.PositiveInfinity;
                losses.Add(loss.to(ScalarType.Float32).item<float>());
                accelerator.Backward(loss);
                optimizer.step();
                scheduler.step();
                lossScales.Add(accelerator.LossScaler?.Scale ?? 1.0);
                batches++;
                if (batches == saveAt && checkpoint is not null) accelerator.SaveState(checkpoint);
                if (batches >= steps) break;
            }
        }

        var state = accelerator.GetStateDict(model);
        var parameters = new JsonArray();
        foreach (var (_, tensor) in state)
            foreach (var value in tensor.to(ScalarType.Float32).reshape(-1).data<float>().ToArray()) parameters.Add(value);
        var result = new JsonObject
        {
            ["rank"] = accelerator.ProcessIndex,
            ["world"] = accelerator.NumProcesses,
            ["losses"] = losses,
            ["parameters"] = parameters,
            ["optimizer_steps"] = accelerator.Step,
            ["skipped"] = accelerator.LossScaler?.SkippedSteps ?? 0,
            ["loss_scales"] = lossScales,
            ["learning_rate"] = scheduler.get_last_lr().First(),
            ["compute_dtype"] = model.parameters().First().dtype.ToString(),
            ["master_dtype"] = optimizer.parameters().First().dtype.ToString(),
        };
        accelerator.EndTraining();
        return result;
    }

    /// <summary>Reads an index dataset for some epochs and reports what each rank read and what GatherForMetrics returned.</summary>
    public static JsonObject Data(IReadOnlyDictionary<string, string> args)
    {
        var size = long.Parse(Get(args, "size", "10"), CultureInfo.InvariantCulture);
        var batch = int.Parse(Get(args, "batch", "2"), CultureInfo.InvariantCulture);
        var epochs = int.Parse(Get(args, "epochs", "2"), CultureInfo.InvariantCulture);
        var accelerator = new Accelerator(new AcceleratorOptions
        {
            Cpu = true,
            SplitBatches = Get(args, "split", "false") == "true",
            EvenBatches = Get(args, "even", "true") == "true",
        });
        var loader = accelerator.PrepareDataLoader(new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset("index", size), batch, SyntheticDataset.Collate, shuffle: Get(args, "shuffle", "true") == "true"));
        var read = new JsonArray();
        var gathered = new JsonArray();
        var sizes = new JsonArray();
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            var mine = new JsonArray();
            var all = new JsonArray();
            var batchSizes = new JsonArray();
            foreach (var (_, indices) in loader)
            {
                batchSizes.Add(indices.shape[0]);
                foreach (var i in indices.data<long>().ToArray()) mine.Add(i);
                using var everyone = accelerator.GatherForMetrics(indices);
                foreach (var i in everyone.data<long>().ToArray()) all.Add(i);
            }
            read.Add(mine);
            gathered.Add(all);
            sizes.Add(batchSizes);
        }
        var result = new JsonObject
        {
            ["rank"] = accelerator.ProcessIndex,
            ["world"] = accelerator.NumProcesses,
            ["count"] = loader.Count,
            ["read"] = read,
            ["gathered"] = gathered,
            ["batch_sizes"] = sizes,
        };
        accelerator.EndTraining();
        return result;
    }

    private static string Get(IReadOnlyDictionary<string, string> args, string key, string fallback) =>
        args.TryGetValue(key, out var value) ? value : fallback;
}
