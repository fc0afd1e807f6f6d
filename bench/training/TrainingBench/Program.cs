// Times the seed loop.
//   mode=compare     the loop in raw TorchSharp and through a one-rank Accelerator, in the same
//                    process, alternating blocks of steps so both see the same machine load.
//   mode=accelerate  the loop through the Accelerator (one rank, or one of N when launched with the
//                    launch-contract environment).
// warmup=N untimed steps first (default steps/10, at least 5).
// Prints BENCHRESULT lines: samples_per_s (all ranks together), sync_ms_per_step (gradient
// all-reduce), backward_ms_per_step (autograd backward alone), step_ms (whole step).
using System.Diagnostics;
using System.Globalization;
using Accelerate;
using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var options = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
var mode = options.GetValueOrDefault("mode", "compare");
var kind = options.GetValueOrDefault("model", "mlp");
var batch = int.Parse(options.GetValueOrDefault("batch", "64"), CultureInfo.InvariantCulture);
var steps = int.Parse(options.GetValueOrDefault("steps", "200"), CultureInfo.InvariantCulture);
var warmup = int.Parse(options.GetValueOrDefault("warmup", Math.Max(5, steps / 10).ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
var block = int.Parse(options.GetValueOrDefault("block", "50"), CultureInfo.InvariantCulture);
torch.set_num_threads(int.Parse(options.GetValueOrDefault("threads", "1"), CultureInfo.InvariantCulture));
Accelerate.Native.LibTorchLoader.EnsureLoaded();

if (mode == "compare")
{
    var raw = new Loop(kind, batch, steps, null);
    var accelerated = new Loop(kind, batch, steps, new Accelerator(new AcceleratorOptions { Cpu = true }));
    raw.Run(warmup, timed: false);
    accelerated.Run(warmup, timed: false);
    for (var done = 0; done < steps; done += block)
    {
        raw.Run(block, timed: true);
        accelerated.Run(block, timed: true);
    }
    raw.Report("raw", 1);
    accelerated.Report("accelerate", 1);
}
else
{
    var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, OverlapGradientSync = options.GetValueOrDefault("overlap", "true") == "true" });
    var loop = new Loop(kind, batch, steps, accelerator);
    loop.Run(warmup, timed: false);
    accelerator.WaitForEveryone();
    loop.Run(steps, timed: true);
    accelerator.WaitForEveryone();
    if (accelerator.IsMainProcess) loop.Report("accelerate", accelerator.NumProcesses);
    accelerator.EndTraining();
}

/// <summary>The seed loop over an endless supply of batches, timed in blocks.</summary>
sealed class Loop
{
    private readonly Accelerator? _accelerator;
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly Func<Tensor, Tensor, Tensor> _loss;
    private readonly optim.Optimizer _optimizer;
    private readonly DataLoader<(Tensor, Tensor), (Tensor, Tensor)> _loader;
    private readonly string _kind;
    private readonly int _batch;
    private IEnumerator<(Tensor, Tensor)> _batches;
    private TimeSpan _elapsed, _backward, _syncAtStart;
    private long _timedSteps;

    public Loop(string kind, int batch, int steps, Accelerator? accelerator)
    {
        _kind = kind;
        _batch = batch;
        _accelerator = accelerator;
        (_model, _loss) = Models.Create(kind);
        _optimizer = Models.Optimizer("sgd", _model.parameters());
        var world = accelerator?.NumProcesses ?? 1;
        _loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(
            new SyntheticDataset(kind is "wide" or "chain" ? "mlp" : kind, (long)batch * world * 64), batch, SyntheticDataset.Collate, shuffle: true, seed: 1);
        if (accelerator is not null) (_model, _optimizer, _loader) = accelerator.Prepare(_model, _optimizer, _loader);
        _batches = _loader.GetEnumerator();
    }

    public void Run(int steps, bool timed)
    {
        if (timed && _timedSteps == 0) _syncAtStart = _accelerator?.GradientSyncTime ?? TimeSpan.Zero;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < steps; i++)
        {
            if (!_batches.MoveNext())
            {
                _batches.Dispose();
                _batches = _loader.GetEnumerator();
                _batches.MoveNext();
            }
            var (inputs, targets) = _batches.Current;
            _optimizer.zero_grad();
            using var loss = _loss(_model.forward(inputs), targets);
            var backwardStart = Stopwatch.GetTimestamp();
            if (_accelerator is null) loss.backward();
            else _accelerator.Backward(loss);
            if (timed) _backward += Stopwatch.GetElapsedTime(backwardStart);
            _optimizer.step();
        }
        if (!timed) return;
        _elapsed += Stopwatch.GetElapsedTime(started);
        _timedSteps += steps;
    }

    public void Report(string mode, int world)
    {
        var sync = ((_accelerator?.GradientSyncTime ?? TimeSpan.Zero) - _syncAtStart).TotalMilliseconds / _timedSteps;
        var samples = (double)_timedSteps * _batch * world / _elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"BENCHRESULT mode={mode} model={_kind} world={world} samples_per_s={samples:F1} sync_ms_per_step={sync:F3} backward_ms_per_step={_backward.TotalMilliseconds / _timedSteps - sync:F3} step_ms={_elapsed.TotalMilliseconds / _timedSteps:F3}"));
    }
}
