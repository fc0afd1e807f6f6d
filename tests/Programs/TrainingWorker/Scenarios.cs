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
        "ops" => Operations(args),
        "api" => ApiScenario.Run(args),
        "suite" => Suite(args),
        "line" => Line(args),
        "drift" => DriftScenario.Run(args),
        "trackers" => Trackers(args),
        "ddp" => DdpScenario.Run(args),
        _ => Train(args),
    };

    /// <summary>
    /// Several runs in one process (ranks start once): <c>runs=</c> lists them separated by <c>|</c>,
    /// each as comma-separated <c>key=value</c> pairs. The process group stays up between runs.
    /// </summary>
    public static JsonObject Suite(IReadOnlyDictionary<string, string> args)
    {
        var results = new JsonArray();
        var runs = Get(args, "runs", "").Split('|', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < runs.Length; i++)
        {
            var run = Parse(runs[i].Split(',', StringSplitOptions.RemoveEmptyEntries));
            run["end"] = i == runs.Length - 1 ? "true" : "false";
            results.Add(Run(run));
        }
        return new JsonObject { ["rank"] = Accelerate.Distributed.DistributedState.Environment.Rank, ["runs"] = results };
    }

    /// <summary>The process helpers across ranks: pad, split, reduce, gather, main-process-first ordering.</summary>
    public static JsonObject Operations(IReadOnlyDictionary<string, string> args)
    {
        var logs = args.TryGetValue("dir", out var dir) ? Path.Combine(dir, "runs") : null;
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, LogDirectory = logs });
        var rank = accelerator.ProcessIndex;
        if (logs is not null) accelerator.Log(new Dictionary<string, double> { ["logged_by_rank"] = rank }, step: 3);
        var uneven = torch.full(new long[] { rank + 2, 3 }, rank + 1.0f);
        using var padded = accelerator.PadAcrossProcesses(uneven);
        using var paddedFirst = accelerator.PadAcrossProcesses(uneven, padFirst: true);
        using var gatheredPadded = accelerator.Gather(padded);
        using var reducedSum = accelerator.Reduce(torch.tensor(new[] { rank + 1.0f }), Accelerate.Distributed.ReduceOp.Sum);
        using var reducedMean = accelerator.Reduce(torch.tensor(new[] { rank + 1.0f }), Accelerate.Distributed.ReduceOp.Average);
        using var reducedMax = accelerator.Reduce(torch.tensor(new[] { rank + 1.0f }), Accelerate.Distributed.ReduceOp.Max);
        using var gatheredScalar = accelerator.Gather(torch.tensor(rank * 10.0f));
        var split = accelerator.SplitBetweenProcesses(Enumerable.Range(0, 7).ToList());
        var splitPadded = accelerator.SplitBetweenProcesses(Enumerable.Range(0, 7).ToList(), applyPadding: true);
        accelerator.SetSeed(11, deviceSpecific: true);
        using var seededDraw = torch.rand(3);
        var order = Path.Combine(Get(args, "dir", Path.GetTempPath()), "order.txt");
        using (accelerator.MainProcessFirst())
        {
            File.AppendAllText(order, rank + "\n");
        }
        var result = new JsonObject
        {
            ["rank"] = rank,
            ["padded_shape"] = new JsonArray(padded.shape.Select(d => (JsonNode)d).ToArray()),
            ["padded_tail"] = padded[padded.shape[0] - 1, 0].item<float>(),
            ["padded_first_head"] = paddedFirst[0, 0].item<float>(),
            ["gathered_rows"] = gatheredPadded.shape[0],
            ["sum"] = reducedSum.item<float>(),
            ["mean"] = reducedMean.item<float>(),
            ["max"] = reducedMax.item<float>(),
            ["gathered_scalar"] = new JsonArray(gatheredScalar.data<float>().ToArray().Select(v => (JsonNode)v).ToArray()),
            ["split"] = new JsonArray(split.Select(v => (JsonNode)v).ToArray()),
            ["split_padded"] = new JsonArray(splitPadded.Select(v => (JsonNode)v).ToArray()),
            ["order_file"] = order,
            ["log_directory"] = logs,
            ["device_seeded_draw"] = new JsonArray(seededDraw.data<float>().ToArray().Select(v => (JsonNode)v).ToArray()),
        };
        End(accelerator, args);
        return result;
    }

    /// <summary>
    /// Trackers and loggers on every rank: hyper-parameters, one metric per reduction with a
    /// rank-dependent value, and log entries from the main process only and from every rank.
    /// </summary>
    public static JsonObject Trackers(IReadOnlyDictionary<string, string> args)
    {
        var logged = new List<string>();
        var accelerator = new Accelerator(new AcceleratorOptions
        {
            Cpu = true,
            LogDirectory = Path.Combine(Get(args, "dir", Path.GetTempPath()), "trackers"),
            LogWith = ["all"],
            LoggerFactory = new ListLoggerFactory(logged),
        });
        var rank = accelerator.ProcessIndex;
        accelerator.InitTrackers("regression", new Dictionary<string, object?> { ["lr"] = 0.01, ["epochs"] = 3, ["optimizer"] = "adam", ["shuffle"] = true });
        double value = rank + 1;
        accelerator.Log(new Dictionary<string, double> { ["loss"] = value, ["rank_times_ten"] = 10.0 * rank }, step: 1, reduce: Accelerate.Tracking.MetricReduction.Mean);
        accelerator.Log(new Dictionary<string, double> { ["loss"] = value }, step: 2, reduce: Accelerate.Tracking.MetricReduction.Max);
        accelerator.Log(new Dictionary<string, double> { ["loss"] = value }, step: 3, reduce: Accelerate.Tracking.MetricReduction.Sum);
        accelerator.Log(new Dictionary<string, double> { ["loss"] = value }, step: 4);
        Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(accelerator.GetLogger("main_only"), "rank {Rank} says hello", rank);
        Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(accelerator.GetLogger("every_rank", mainProcessOnly: false), "rank {Rank} says hello", rank);
        var tracker = accelerator.GetTracker("jsonl");
        var result = new JsonObject
        {
            ["rank"] = rank,
            ["log_directory"] = accelerator.LogDirectory,
            ["jsonl_tracker"] = tracker.GetType().Name,
            ["logged"] = new JsonArray(logged.Select(l => (JsonNode)l).ToArray()),
        };
        // Runs follow in this process (the group stays up): close the trackers as EndTraining would.
        if (Get(args, "end", "true") != "true")
            foreach (var name in new[] { "tensorboard", "jsonl" }) accelerator.GetTracker(name).Finish();
        End(accelerator, args);
        return result;
    }

    private static void End(Accelerator accelerator, IReadOnlyDictionary<string, string> args)
    {
        if (Get(args, "end", "true") == "true") accelerator.EndTraining();
    }

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
        // huge_at=N multiplies batch N's loss by 1e8: finite, but its fp16 gradients overflow.
        var hugeAt = int.Parse(Get(args, "huge_at", "-1"), CultureInfo.InvariantCulture);
        var saveAt = int.Parse(Get(args, "save_at", "-1"), CultureInfo.InvariantCulture);
        var checkpoint = args.TryGetValue("checkpoint", out var c) ? c : null;
        var resume = Get(args, "resume", "false") == "true";

        var accelerator = new Accelerator(new AcceleratorOptions
        {
            MixedPrecision = precision,
            GradientAccumulationSteps = accumulation,
            Cpu = true,
            GradScaler = new GradScalerOptions
            {
                InitScale = double.Parse(Get(args, "loss_scale", "65536"), CultureInfo.InvariantCulture),
                GrowthFactor = double.Parse(Get(args, "growth_factor", "2"), CultureInfo.InvariantCulture),
                BackoffFactor = double.Parse(Get(args, "backoff_factor", "0.5"), CultureInfo.InvariantCulture),
                GrowthInterval = int.Parse(Get(args, "growth_interval", "2000"), CultureInfo.InvariantCulture),
            },
            SplitBatches = Get(args, "split", "false") == "true",
            ProjectDirectory = args.TryGetValue("project", out var project) ? project : null,
            AutomaticCheckpointNaming = args.ContainsKey("project"),
            TotalLimit = int.Parse(Get(args, "limit", "2"), CultureInfo.InvariantCulture),
            OverlapGradientSync = Get(args, "overlap", "true") == "true",
            ResumeFromCheckpoint = args.TryGetValue("resume_from", out var resumeFrom) ? resumeFrom : null,
            EvenBatches = Get(args, "even", "true") == "true",
            SaveOnEachNode = Get(args, "save_on_each_node", "false") == "true",
        });
        // rank_seed=true initializes every rank differently: Prepare must copy rank 0's weights to all.
        var (model, lossFunction) = Models.Create(kind, Get(args, "rank_seed", "false") == "true" ? 1 + accelerator.ProcessIndex : 1);
        var optimizer = Models.Optimizer(Get(args, "optimizer", "sgd"), model.parameters());
        var dataset = new RecordingDataset<(Tensor, Tensor)>(new SyntheticDataset(kind, size));
        var loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            dataset, batch, SyntheticDataset.Collate, shuffle: Get(args, "shuffle", "true") == "true", seed: 3);
        var scheduler = optim.lr_scheduler.StepLR(optimizer, 1, double.Parse(Get(args, "gamma", "1.0"), CultureInfo.InvariantCulture));
        (model, optimizer, loader, scheduler) = accelerator.Prepare(model, optimizer, loader, scheduler);
        var counter = new BatchCounter();
        accelerator.RegisterForCheckpointing(counter);
        if (resume && checkpoint is not null) accelerator.LoadState(checkpoint);
        var every = int.Parse(Get(args, "every", "0"), CultureInfo.InvariantCulture);
        var restarted = Environment.GetEnvironmentVariable("TORCHELASTIC_RESTART_COUNT") is { } count && count != "0";
        // save_to=<folder>: the periodic saves replace that one folder instead of naming checkpoint_N.
        var saveTo = args.TryGetValue("save_to", out var folder) ? folder : null;
        if (restarted && (args.ContainsKey("project") || saveTo is not null)) Console.WriteLine("resumed from " + accelerator.LoadState(saveTo));
        var dieAt = int.Parse(Get(args, "die_at", "-1"), CultureInfo.InvariantCulture);
        var dieRank = int.Parse(Get(args, "die_rank", "-1"), CultureInfo.InvariantCulture);
        var crashAt = int.Parse(Get(args, "crash_at", "-1"), CultureInfo.InvariantCulture);
        var pauseAt = int.Parse(Get(args, "pause_at", "-1"), CultureInfo.InvariantCulture);
        var pauseRank = int.Parse(Get(args, "pause_rank", "0"), CultureInfo.InvariantCulture);
        var busyAt = int.Parse(Get(args, "busy_at", "-1"), CultureInfo.InvariantCulture);
        var busyRank = int.Parse(Get(args, "busy_rank", "0"), CultureInfo.InvariantCulture);
        var stepScopes = Get(args, "dispose_scope", "false") == "true";
        var clip = double.Parse(Get(args, "clip", "0"), CultureInfo.InvariantCulture);

        var losses = new JsonArray();
        var samples = new JsonArray(); // the dataset indices of every batch this process read
        ref var batches = ref counter.Batches;
        var lossScales = new JsonArray();
        var norms = new JsonArray();
        while (batches < steps)
        {
            foreach (var (inputs, targets) in loader)
            {
                // TorchSharp's usual memory hygiene: every temporary of a step is freed at its end.
                using var stepScope = stepScopes ? torch.NewDisposeScope() : null;
                using var scope = explicitAccumulate ? accelerator.Accumulate(model) : null;
                samples.Add(new JsonArray(dataset.Take().Select(i => (JsonNode)i).ToArray()));
                optimizer.zero_grad();
                var loss = lossFunction(model.forward(inputs), targets);
                if (batches == injectInfAt) loss = loss * double.PositiveInfinity;
                if (batches == hugeAt) loss = loss.to(ScalarType.Float32) * 1e8;
                var lossValue = loss.to(ScalarType.Float32).item<float>();
                losses.Add(float.IsFinite(lossValue) ? lossValue : null); // JSON has no inf: an injected inf is recorded as null
                accelerator.Backward(loss);
                if (clip > 0 && accelerator.SyncGradients) norms.Add(accelerator.ClipGradNorm(model.parameters(), clip));
                optimizer.step();
                scheduler.step();
                lossScales.Add(accelerator.LossScaler?.Scale ?? 1.0);
                batches++;
                if (batches == pauseAt && accelerator.ProcessIndex == pauseRank)
                {
                    // Stands for a job pre-empted at this step: the test signals it, the next batch saves and exits.
                    Console.WriteLine($"paused for a signal (pid {Environment.ProcessId})");
                    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
                    while (!Accelerator.PreemptionRequested)
                    {
                        if (DateTime.UtcNow > deadline) throw new TimeoutException("no pre-emption signal came within 2 minutes");
                        Thread.Sleep(10);
                    }
                }
                if (batches == busyAt && accelerator.ProcessIndex == busyRank)
                {
                    // Stands for a long stretch of work on one rank without collectives (an evaluation on rank 0):
                    // a pre-emption request does not cut it short, only ending the process does.
                    Console.WriteLine($"busy alone (pid {Environment.ProcessId})");
                    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
                    while (DateTime.UtcNow < deadline) Thread.Sleep(10);
                }
                if (batches == saveAt && checkpoint is not null) accelerator.SaveState(checkpoint);
                if (every > 0 && batches % every == 0) Console.WriteLine("saved " + accelerator.SaveState(saveTo));
                if (!restarted && batches == crashAt && accelerator.ProcessIndex == dieRank)
                    throw new InvalidOperationException($"rank {dieRank} fails at batch {crashAt} on purpose");
                if (!restarted && batches == dieAt && accelerator.ProcessIndex == dieRank)
                {
                    // Stands for a rank that crashes mid-run: it stops here until the test kills it.
                    Console.WriteLine("waiting to be killed");
                    Thread.Sleep(Timeout.Infinite);
                }
                if (batches >= steps) break;
            }
        }

        if (accelerator.ResumedFrom is { } resumedFrom) Console.WriteLine("resumed from " + resumedFrom);
        var state = accelerator.GetStateDict(model);
        var parameters = new JsonArray();
        foreach (var (_, tensor) in state)
            foreach (var value in tensor.to(ScalarType.Float32).reshape(-1).data<float>().ToArray()) parameters.Add(value);
        var result = new JsonObject
        {
            ["rank"] = accelerator.ProcessIndex,
            ["world"] = accelerator.NumProcesses,
            ["losses"] = losses,
            ["samples"] = samples,
            ["parameters"] = parameters,
            ["optimizer_steps"] = accelerator.Step,
            ["overlapped_buckets"] = accelerator.OverlappedBuckets,
            ["separate_preemption_votes"] = accelerator.SeparatePreemptionVotes,
            ["skipped"] = accelerator.LossScaler?.SkippedSteps ?? 0,
            ["loss_scales"] = lossScales,
            ["clipped_norms"] = norms,
            ["learning_rate"] = scheduler.get_last_lr().First(),
            ["compute_dtype"] = model.parameters().First().dtype.ToString(),
            ["master_dtype"] = optimizer.parameters().First().dtype.ToString(),
        };
        End(accelerator, args);
        return result;
    }

    /// <summary>
    /// The template's loop over hand-made tensors: fits y = 2x + 1 with <c>model=linear</c> (one
    /// <c>nn.Linear</c>) or <c>model=sequential</c> (a small MLP), called through <c>invoke=forward</c>
    /// or <c>invoke=call</c>, on points split between the ranks (<c>inputs=split</c>) or on fp32
    /// tensors that never went through the accelerator (<c>inputs=raw</c>).
    /// </summary>
    public static JsonObject Line(IReadOnlyDictionary<string, string> args)
    {
        var precision = Enum.Parse<MixedPrecision>(Get(args, "precision", "No"), ignoreCase: true);
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = precision, Cpu = true });
        torch.manual_seed(42);
        var x = torch.randn(512, 1);
        var y = 2 * x + 1 + 0.05 * torch.randn(512, 1);
        var raw = Get(args, "inputs", "split") == "raw";
        var inputs = raw ? x : accelerator.SplitRowsBetweenProcesses(x).to(accelerator.Device);
        var targets = raw ? y : accelerator.SplitRowsBetweenProcesses(y).to(accelerator.Device);
        nn.Module<Tensor, Tensor> network = Get(args, "model", "linear") == "sequential"
            ? nn.Sequential(("hidden", nn.Linear(1, 8)), ("act", nn.Tanh()), ("out", nn.Linear(8, 1)))
            : nn.Linear(1, 1);
        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), learningRate: 0.1));
        var call = Get(args, "invoke", "forward") == "call";

        var outputType = "";
        var loss = 0f;
        for (var step = 0; step < 150; step++)
        {
            using var _ = torch.NewDisposeScope();
            optimizer.zero_grad();
            var output = call ? model.call(inputs) : model.forward(inputs);
            outputType = output.dtype.ToString();
            var batchLoss = nn.functional.mse_loss(output, targets);
            loss = batchLoss.to(ScalarType.Float32).item<float>();
            accelerator.Backward(batchLoss);
            optimizer.step();
        }

        var parameters = new JsonArray();
        foreach (var (_, tensor) in accelerator.GetStateDict(model))
            foreach (var value in tensor.to(ScalarType.Float32).reshape(-1).data<float>().ToArray()) parameters.Add(value);
        var result = new JsonObject
        {
            ["rank"] = accelerator.ProcessIndex,
            ["input_dtype"] = inputs.dtype.ToString(),
            ["output_dtype"] = outputType,
            ["loss"] = loss,
            ["parameters"] = parameters,
        };
        End(accelerator, args);
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
            DataSeed = long.Parse(Get(args, "data_seed", "42"), CultureInfo.InvariantCulture),
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
        End(accelerator, args);
        return result;
    }

    /// <summary>The loop's batch count, checkpointed with the run (optimizer steps differ when fp16 skips some).</summary>
    private sealed class BatchCounter : ICheckpointable
    {
        public int Batches;

        public void SaveState(Stream stream) => new BinaryWriter(stream).Write(Batches);

        public void LoadState(Stream stream) => Batches = new BinaryReader(stream).ReadInt32();
    }

    private static string Get(IReadOnlyDictionary<string, string> args, string key, string fallback) =>
        args.TryGetValue(key, out var value) ? value : fallback;
}
