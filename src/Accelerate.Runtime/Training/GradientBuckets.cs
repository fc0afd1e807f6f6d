using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Averages gradients across ranks the way DDP does: parameters in reverse registration order are
/// packed into flat buckets of about <c>capBytes</c> (the first at most 1 MiB, so communication can
/// start early in a future overlapped version), one all-reduce per bucket, in a fixed order on every rank.
/// </summary>
internal sealed class GradientBuckets
{
    private const long FirstBucketBytes = 1 << 20;
    private readonly List<Bucket> _buckets = new();

    public GradientBuckets(IEnumerable<ParameterSlot> slots, long capBytes, ScalarType wireType)
    {
        var ordered = slots.Reverse().ToList();
        var current = new List<ParameterSlot>();
        long bytes = 0;
        var wireSize = ElementSize(wireType);
        foreach (var slot in ordered)
        {
            current.Add(slot);
            bytes += slot.Master.numel() * wireSize;
            var cap = _buckets.Count == 0 ? Math.Min(FirstBucketBytes, capBytes) : capBytes;
            if (bytes >= cap)
            {
                _buckets.Add(new Bucket(current, wireType));
                current = new List<ParameterSlot>();
                bytes = 0;
            }
        }
        if (current.Count > 0) _buckets.Add(new Bucket(current, wireType));
    }

    public int Count => _buckets.Count;

    /// <summary>Replaces every master gradient by its average over the ranks of <paramref name="group"/>.</summary>
    public void Average(ProcessGroup group)
    {
        using var _ = torch.no_grad();
        foreach (var bucket in _buckets) bucket.Average(group);
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => 4,
    };

    private sealed class Bucket
    {
        private readonly List<ParameterSlot> _slots;
        private readonly long[] _offsets;
        private readonly Tensor _flat;

        public Bucket(List<ParameterSlot> slots, ScalarType wireType)
        {
            _slots = slots;
            _offsets = new long[slots.Count];
            long offset = 0;
            for (var i = 0; i < slots.Count; i++)
            {
                _offsets[i] = offset;
                offset += slots[i].Master.numel();
            }
            // Built lazily inside the user's step; it must outlive any dispose scope open there.
            _flat = torch.zeros(offset, dtype: wireType, device: slots[0].Master.device).DetachFromDisposeScope();
        }

        public void Average(ProcessGroup group)
        {
            for (var i = 0; i < _slots.Count; i++)
            {
                using var view = _flat.narrow(0, _offsets[i], _slots[i].Master.numel());
                using var grad = _slots[i].Master.grad;
                if (grad is null) view.zero_();
                else
                {
                    using var flatGrad = grad.reshape(-1);
                    view.copy_(flatGrad);
                }
            }
            group.AllReduce(_flat, ReduceOp.Average);
            for (var i = 0; i < _slots.Count; i++)
            {
                var master = _slots[i].Master;
                using var view = _flat.narrow(0, _offsets[i], master.numel());
                using var shaped = view.view(master.shape);
                using var grad = master.grad;
                if (grad is null) master.grad = shaped.to(master.dtype, copy: true);
                else grad.copy_(shaped);
            }
        }
    }
}
