using System.Collections.Concurrent;
using Accelerate.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Overlaps the gradient all-reduce with the backward pass. Every module that owns trainable
/// parameters gets a forward pre-hook that passes its input through <see cref="GradientReadySignal"/>;
/// when backward reaches that signal as many times as the module ran forward, the module's
/// gradients are complete and its bucket goes to a communication thread, which all-reduces buckets
/// one at a time in the order they became ready (the same on every rank: the same graph). Buckets
/// whose signal never fires (a module whose input needs no gradient, such as the first layer, or a
/// module called through <c>forward</c> rather than <c>call</c>, which skips hooks) are reduced after
/// backward, in reverse registration order.
/// </summary>
internal sealed class OverlappedGradientSync : IDisposable
{
    private readonly ProcessGroup _group;
    private readonly List<ModuleBucket> _buckets = new();
    private readonly List<Action> _hooks = new();
    private readonly BlockingCollection<ModuleBucket?> _queue = new();
    private readonly Thread _thread;
    private readonly SemaphoreSlim _drained = new(0);
    private Exception? _failure;

    public OverlappedGradientSync(ProcessGroup group)
    {
        _group = group;
        _thread = new Thread(Communicate) { IsBackground = true, Name = "accelerate gradient all-reduce" };
        _thread.Start();
    }

    /// <summary>True while forward passes should plant signals (a synchronizing step with nothing accumulated).</summary>
    public Func<bool> Armed { get; set; } = () => false;

    /// <summary>Buckets sent while backward was still running, since the start.</summary>
    public long OverlappedBuckets { get; private set; }

    public void Attach(PreparedModel model)
    {
        var slotsByHandle = model.Slots.ToDictionary(s => s.Compute.Handle);
        var owners = new List<nn.Module> { model.Module };
        owners.AddRange(model.Module.modules());
        // A parameter registered in two modules (tied weights) is complete only at the end of
        // backward: its modules are left to the after-backward reduction.
        var shared = owners.SelectMany(o => o.named_parameters(recurse: false).Select(p => p.parameter.Handle))
            .GroupBy(h => h).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        foreach (var owner in owners)
        {
            var hookable = owner as nn.Module<Tensor, Tensor>;
            var ownSlots = owner.named_parameters(recurse: false).ToList();
            if (ownSlots.Any(p => shared.Contains(p.parameter.Handle))) hookable = null;
            var slots = ownSlots
                .Select(p => slotsByHandle.TryGetValue(p.parameter.Handle, out var slot) ? slot : null)
                .OfType<ParameterSlot>().ToList();
            if (slots.Count == 0) continue;
            var bucket = new ModuleBucket(this, slots);
            _buckets.Add(bucket);
            if (hookable is not null)
            {
                var remover = hookable.register_forward_pre_hook((_, input) => bucket.OnForward(input));
                _hooks.Add(remover.remove);
            }
        }
    }

    /// <summary>After backward: reduces what was not reduced yet, waits for the thread, and resets for the next step.</summary>
    public void Finish()
    {
        foreach (var bucket in _buckets.AsEnumerable().Reverse())
            if (!bucket.Sent)
            {
                bucket.Sent = true;
                _queue.Add(bucket);
            }
        _queue.Add(null);
        _drained.Wait();
        if (_failure is { } failure)
        {
            _failure = null;
            throw new AccelerateException(RuntimeErrorCode.GradientSyncFailed, "Averaging gradients across ranks failed: " + failure.Message, failure);
        }
        foreach (var bucket in _buckets) bucket.Reset();
    }

    public void Dispose()
    {
        foreach (var remove in _hooks) remove();
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }

    private void Enqueue(ModuleBucket bucket)
    {
        OverlappedBuckets++;
        _queue.Add(bucket);
    }

    private void Communicate()
    {
        foreach (var bucket in _queue.GetConsumingEnumerable())
        {
            if (bucket is null)
            {
                _drained.Release();
                continue;
            }
            if (_failure is not null) continue;
            try
            {
                bucket.Average(_group);
            }
            catch (Exception e)
            {
                _failure = e;
            }
        }
    }

    /// <summary>The trainable parameters one module owns, reduced together.</summary>
    internal sealed class ModuleBucket(OverlappedGradientSync owner, List<ParameterSlot> slots)
    {
        private readonly FlatGradients _gradients = new(slots.Select(s => (Tensor)s.Compute).ToList(), slots[0].Compute.dtype);
        private int _forwardCalls;
        private int _signals;

        public bool Sent { get; set; }

        public Tensor OnForward(Tensor input)
        {
            if (!owner.Armed() || !torch.is_grad_enabled() || !input.requires_grad) return input;
            _forwardCalls++;
            return GradientReadySignal.apply(input, this);
        }

        /// <summary>Called by autograd; the last signal of a module used k times means all k contributions are in.</summary>
        public void SignalReady()
        {
            if (++_signals < _forwardCalls || Sent) return;
            Sent = true;
            owner.Enqueue(this);
        }

        public void Reset()
        {
            _forwardCalls = 0;
            _signals = 0;
            Sent = false;
        }

        public void Average(ProcessGroup group) => _gradients.Average(group);
    }
}
