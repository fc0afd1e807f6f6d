using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Averages gradients across ranks the way DDP does: parameters in reverse registration order are
/// packed into flat buckets of about <c>capBytes</c> (the first at most 1 MiB, so communication can
/// start early), one all-reduce per bucket, in a fixed order on every rank. One per prepared model.
/// </summary>
internal sealed class GradientBuckets
{
    private const long FirstBucketBytes = 1 << 20;
    private readonly List<Bucket> _buckets = new();

    public GradientBuckets(IEnumerable<ParameterSlot> slots, long capBytes, ScalarType wireType, bool findUnused, PreemptionVote vote)
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
                _buckets.Add(new Bucket(current, wireType, findUnused));
                current = new List<ParameterSlot>();
                bytes = 0;
            }
        }
        if (current.Count > 0) _buckets.Add(new Bucket(current, wireType, findUnused));
        // The bucket reduced last carries the pre-emption vote: every synchronizing step reduces it.
        if (_buckets.Count > 0) _buckets[^1] = new Bucket(_buckets[^1].Slots, wireType, findUnused, vote);
    }

    public int Count => _buckets.Count;

    /// <summary>Replaces every master gradient by its average over the ranks of <paramref name="group"/>.</summary>
    public void Average(ProcessGroup group)
    {
        foreach (var bucket in _buckets) bucket.Average(group);
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => 4,
    };

    private sealed class Bucket(List<ParameterSlot> slots, ScalarType wireType, bool findUnused, PreemptionVote? vote = null)
    {
        private readonly FlatGradients _gradients = new(slots.Select(s => (Tensor)s.Master).ToList(), wireType, findUnused, vote);

        public List<ParameterSlot> Slots => slots;

        public void Average(ProcessGroup group) => _gradients.Average(group);
    }
}
