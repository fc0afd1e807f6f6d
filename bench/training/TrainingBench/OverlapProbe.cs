using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Accelerate.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// Measures whether overlapping the gradient all-reduce with backward pays, the only way TorchSharp
/// allows: an identity autograd function at each layer's input whose backward says "this layer's
/// gradients are ready", handing that layer's bucket to a communication thread while autograd goes on.
/// Compared with reducing every bucket after backward returns, on a chain of equal layers.
/// </summary>
static class OverlapProbe
{
    public static void Run(ProcessGroup group, int layers, int width, int batch, int steps)
    {
        torch.manual_seed(1);
        var chain = Enumerable.Range(0, layers).Select(_ => nn.Linear(width, width)).ToList();
        var inputs = torch.randn(batch, width);
        var targets = torch.randn(batch, width);
        var buckets = chain.Select(l => new Bucket(l.parameters().ToList())).ToList();
        foreach (var overlap in new[] { false, true, false, true, false, true })
        {
            var clock = new Stopwatch();
            var waited = TimeSpan.Zero;
            for (var step = -5; step < steps; step++)
            {
                if (step == 0) { group.Barrier(); clock.Start(); }
                foreach (var layer in chain) layer.zero_grad();
                using var communication = overlap ? new CommunicationThread(group) : null;
                ReadyMark.Ready = communication is null ? null : index => communication.Enqueue(buckets[index]);
                var h = inputs;
                for (var i = 0; i < chain.Count; i++)
                {
                    if (overlap) h = ReadyMark.apply(h, i);
                    h = nn.functional.relu(chain[i].forward(h));
                }
                using var loss = nn.functional.mse_loss(h, targets);
                loss.backward();
                var waitStart = Stopwatch.GetTimestamp();
                if (communication is null)
                    for (var i = buckets.Count - 1; i >= 0; i--) buckets[i].Average(group);
                else communication.Finish();
                if (step >= 0) waited += Stopwatch.GetElapsedTime(waitStart);
            }
            clock.Stop();
            if (group.Rank == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"BENCHRESULT mode={(overlap ? "overlap" : "after_backward")} step_ms={clock.Elapsed.TotalMilliseconds / steps:F3} wait_after_backward_ms={waited.TotalMilliseconds / steps:F3}"));
        }
    }

    /// <summary>Identity whose backward reports that the gradients of the layer it feeds are ready.</summary>
    sealed class ReadyMark : torch.autograd.SingleTensorFunction<ReadyMark>
    {
        public static Action<int>? Ready;

        public override string Name => "ReadyMark";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            ctx.save_data("layer", vars[1]);
            var input = (Tensor)vars[0];
            return input.view(input.shape);
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
        {
            Ready?.Invoke((int)ctx.get_data("layer"));
            return new List<Tensor> { grad_output, null! };
        }
    }

    sealed class Bucket(List<Parameter> parameters)
    {
        private readonly Tensor _flat = torch.zeros(parameters.Sum(p => p.numel()));

        public void Average(ProcessGroup group)
        {
            using var _ = torch.no_grad();
            long offset = 0;
            foreach (var p in parameters)
            {
                using var g = p.grad!;
                using var view = _flat.narrow(0, offset, p.numel());
                view.copy_(g.reshape(-1));
                offset += p.numel();
            }
            group.AllReduce(_flat, ReduceOp.Average);
            offset = 0;
            foreach (var p in parameters)
            {
                using var g = p.grad!;
                using var view = _flat.narrow(0, offset, p.numel());
                g.copy_(view.view(g.shape));
                offset += p.numel();
            }
        }
    }

    /// <summary>Runs buckets' all-reduces one after another, in the order they became ready (the same on every rank).</summary>
    sealed class CommunicationThread : IDisposable
    {
        private readonly BlockingCollection<Bucket> _queue = new();
        private readonly Thread _thread;
        private Exception? _failure;

        public CommunicationThread(ProcessGroup group)
        {
            _thread = new Thread(() =>
            {
                try { foreach (var bucket in _queue.GetConsumingEnumerable()) bucket.Average(group); }
                catch (Exception e) { _failure = e; }
            }) { IsBackground = true };
            _thread.Start();
        }

        public void Enqueue(Bucket bucket) => _queue.Add(bucket);

        public void Finish()
        {
            _queue.CompleteAdding();
            _thread.Join();
            if (_failure is not null) throw _failure;
        }

        public void Dispose()
        {
            if (!_queue.IsAddingCompleted) Finish();
            _queue.Dispose();
        }
    }
}
