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
/// gradients are complete and its bucket is ready. Buckets go to a communication thread, which
/// all-reduces them one at a time, strictly in reverse registration order, as DDP launches its
/// buckets in index order: a bucket ready before the ones ahead of it waits for them. So every rank
/// makes the same calls in the same order even when the ranks' graphs differ (a module one rank did
/// not use). Buckets whose signal never fires (a module whose input needs no gradient, such as the
/// first layer, a module called through <c>forward</c> rather than <c>call</c>, which skips hooks, or
/// a module not used in this step) are sent after backward, in that same order. Only the buckets of
/// models <see cref="Armed"/> says synchronize with nothing kept aside take part in a step.
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
    // Position in the send order (reverse registration order) of the next bucket to send.
    private int _next;

    public OverlappedGradientSync(ProcessGroup group)
    {
        _group = group;
        _thread = new Thread(Communicate) { IsBackground = true, Name = "accelerate gradient all-reduce" };
        _thread.Start();
    }

    /// <summary>True for a model whose forward passes plant signals and whose buckets are sent: it synchronizes in this step and has nothing kept aside.</summary>
    public Func<PreparedModel, bool> Armed { get; set; } = _ => false;

    /// <summary>Buckets sent while backward was still running, since the start.</summary>
    public long OverlappedBuckets { get; private set; }

    public void Attach(PreparedModel model, bool findUnused, PreemptionVote vote)
    {
        var first = true;
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
            // The model's first bucket, sent last, carries the pre-emption vote: every synchronizing step sends it.
            var bucket = new ModuleBucket(this, model, slots, findUnused, first ? vote : null);
            first = false;
            _buckets.Add(bucket);
            if (hookable is not null)
            {
                var remover = hookable.register_forward_pre_hook((_, input) => bucket.OnForward(input));
                _hooks.Add(remover.remove);
            }
        }
    }

    /// <summary>After backward: sends the armed buckets not sent yet, waits for the thread, and resets every bucket for the next step.</summary>
    public void Finish()
    {
        SendInOrder(afterBackward: true);
        _next = 0;
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

    /// <summary>
    /// Sends, in the send order, every bucket up to the first armed one that is not ready (all of
    /// them after backward). Buckets of models that are not armed are not part of this step's order.
    /// </summary>
    private void SendInOrder(bool afterBackward)
    {
        for (; _next < _buckets.Count; _next++)
        {
            var bucket = _buckets[_buckets.Count - 1 - _next];
            if (!Armed(bucket.Model)) continue;
            if (!bucket.Ready && !afterBackward) return;
            if (!afterBackward) OverlappedBuckets++;
            _queue.Add(bucket);
        }
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
    internal sealed class ModuleBucket(OverlappedGradientSync owner, PreparedModel model, List<ParameterSlot> slots, bool findUnused, PreemptionVote? vote)
    {
        private readonly FlatGradients _gradients = new(slots.Select(s => (Tensor)s.Compute).ToList(), slots[0].Compute.dtype, findUnused, vote);
        private int _forwardCalls;
        private int _signals;

        public PreparedModel Model => model;

        /// <summary>True once backward has produced every gradient of the module in this step.</summary>
        public bool Ready { get; private set; }

        public Tensor OnForward(Tensor input)
        {
            if (!owner.Armed(model) || !torch.is_grad_enabled() || !input.requires_grad) return input;
            _forwardCalls++;
            return GradientReadySignal.apply(input, this);
        }

        /// <summary>Called by autograd; the last signal of a module used k times means all k contributions are in.</summary>
        public void SignalReady()
        {
            if (++_signals < _forwardCalls || Ready) return;
            Ready = true;
            owner.SendInOrder(afterBackward: false);
        }

        public void Reset()
        {
            _forwardCalls = 0;
            _signals = 0;
            Ready = false;
        }

        public void Average(ProcessGroup group) => _gradients.Average(group);
    }
}
