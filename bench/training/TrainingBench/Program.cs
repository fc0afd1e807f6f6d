// Times the seed loop: mode=raw is plain TorchSharp, mode=accelerate the same loop through the
// Accelerator (one rank, or one of N when launched with the launch-contract environment).
// Prints one line: BENCHRESULT mode=<m> model=<k> rank=<r> world=<n> samples_per_s=<x> sync_ms_per_step=<y>
// backward_ms_per_step=<autograd backward alone> step_ms=<whole step>.
using System.Diagnostics;
using System.Globalization;
using Accelerate;
using Accelerate.TrainingWorker;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var options = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
var mode = options.GetValueOrDefault("mode", "raw");
var kind = options.GetValueOrDefault("model", "mlp");
var batch = int.Parse(options.GetValueOrDefault("batch", "64"), CultureInfo.InvariantCulture);
var steps = int.Parse(options.GetValueOrDefault("steps", "200"), CultureInfo.InvariantCulture);
var warmup = Math.Max(5, steps / 10);
torch.set_num_threads(int.Parse(options.GetValueOrDefault("threads", "1"), CultureInfo.InvariantCulture));
Accelerate.Native.LibTorchLoader.EnsureLoaded();

var accelerator = mode == "accelerate" ? new Accelerator(new AcceleratorOptions { Cpu = true }) : null;
var world = accelerator?.NumProcesses ?? 1;
var (model, lossFunction) = Models.Create(kind);
var optimizer = Models.Optimizer("sgd", model.parameters());
var size = (long)batch * world * (steps + warmup);
var loader = new DataLoader<(Tensor, Tensor), (Tensor, Tensor)>(new SyntheticDataset(kind == "wide" ? "mlp" : kind, size), batch, SyntheticDataset.Collate, shuffle: true, seed: 1);
if (accelerator is not null) (model, optimizer, loader) = accelerator.Prepare(model, optimizer, loader);

var clock = new Stopwatch();
var done = 0;
var syncAtStart = TimeSpan.Zero;
var backwardTime = TimeSpan.Zero;
foreach (var (inputs, targets) in loader)
{
    if (done == warmup)
    {
        accelerator?.WaitForEveryone();
        syncAtStart = accelerator?.GradientSyncTime ?? TimeSpan.Zero;
        clock.Start();
    }
    optimizer.zero_grad();
    var loss = lossFunction(model.forward(inputs), targets);
    var backwardStart = Stopwatch.GetTimestamp();
    if (accelerator is null) loss.backward();
    else accelerator.Backward(loss);
    if (clock.IsRunning) backwardTime += Stopwatch.GetElapsedTime(backwardStart);
    optimizer.step();
    loss.Dispose();
    if (++done == warmup + steps) break;
}
accelerator?.WaitForEveryone();
clock.Stop();
var samplesPerSecond = (double)steps * batch * world / clock.Elapsed.TotalSeconds;
var syncMs = ((accelerator?.GradientSyncTime ?? TimeSpan.Zero) - syncAtStart).TotalMilliseconds / steps;
var backwardMs = backwardTime.TotalMilliseconds / steps - syncMs;
var stepMs = clock.Elapsed.TotalMilliseconds / steps;
if (accelerator?.IsMainProcess ?? true)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"BENCHRESULT mode={mode} model={kind} rank={accelerator?.ProcessIndex ?? 0} world={world} samples_per_s={samplesPerSecond:F1} sync_ms_per_step={syncMs:F3} backward_ms_per_step={backwardMs:F3} step_ms={stepMs:F3}"));
accelerator?.EndTraining();
