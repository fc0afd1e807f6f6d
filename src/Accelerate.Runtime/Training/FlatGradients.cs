using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// The gradients of a group of parameters packed into one flat tensor, so that a group is averaged
/// across ranks with a single all-reduce. Used by the after-backward buckets and by the buckets
/// reduced while backward runs. With <c>findUnused</c> the flat tensor ends with one flag per
/// parameter (1 where this rank has a gradient for it): after the all-reduce a flag of 0 means no
/// rank used the parameter, and its gradient is left null, as DDP's <c>find_unused_parameters</c> does.
/// A bucket given a <see cref="PreemptionVote"/> also carries every rank's pre-emption signal after those.
/// </summary>
internal sealed class FlatGradients
{
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly long[] _offsets;
    private readonly ScalarType _wireType;
    private readonly bool[] _inPlace;
    private readonly bool _findUnused;
    private readonly PreemptionVote? _vote;
    private Tensor? _flat;

    // A gradient this large already amortizes the cost of one all-reduce call; packing it would
    // only add two copies of it (about half the sync time of a 4 MB layer on shared memory).
    private const long InPlaceBytes = 1 << 20;

    public FlatGradients(IReadOnlyList<Tensor> parameters, ScalarType wireType, bool findUnused = false, PreemptionVote? vote = null)
    {
        _vote = vote;
        _parameters = parameters;
        _wireType = wireType;
        _findUnused = findUnused;
        _offsets = new long[parameters.Count + 1];
        // Decided from shapes and dtypes alone, so every rank makes the same calls in the same order.
        _inPlace = parameters.Select(p => p.dtype == wireType && p.numel() * p.element_size() >= InPlaceBytes).ToArray();
        for (var i = 0; i < parameters.Count; i++) _offsets[i + 1] = _offsets[i] + (_inPlace[i] ? 0 : parameters[i].numel());
    }

    /// <summary>Elements of the flat tensor: the packed gradients, the used flags, the pre-emption votes.</summary>
    private long FlatLength => VoteOffset + (_vote is null ? 0 : PreemptionVote.Length);

    private long VoteOffset => _offsets[^1] + (_findUnused ? _parameters.Count : 0);

    /// <summary>Replaces every parameter's gradient by its average over the ranks of <paramref name="group"/> (a missing gradient counts as zero).</summary>
    public void Average(ProcessGroup group)
    {
        using var _ = torch.no_grad();
        var used = _findUnused ? _parameters.Select(p => { using var g = p.grad; return g is null ? 0f : 1f; }).ToArray() : null;
        for (var i = 0; i < _parameters.Count; i++)
        {
            if (!_inPlace[i]) continue;
            var parameter = _parameters[i];
            var grad = parameter.grad;
            if (grad is null)
            {
                using var zeros = torch.zeros_like(parameter);
                parameter.grad = zeros;
                grad = parameter.grad!;
            }
            using (grad) AverageOnTheWire(group, grad);
        }
        if (FlatLength == 0) return;
        // Built lazily inside the user's step; it must outlive any dispose scope open there.
        _flat ??= torch.zeros(FlatLength, dtype: _wireType, device: _parameters[0].device).DetachFromDisposeScope();
        for (var i = 0; i < _parameters.Count; i++)
        {
            if (_inPlace[i]) continue;
            using var view = _flat.narrow(0, _offsets[i], _parameters[i].numel());
            using var grad = _parameters[i].grad;
            if (grad is null) view.zero_();
            else
            {
                using var flatGrad = grad.reshape(-1);
                view.copy_(flatGrad);
            }
        }
        if (used is not null)
        {
            using var flags = _flat.narrow(0, _offsets[^1], used.Length);
            using var local = torch.tensor(used);
            flags.copy_(local);
        }
        if (_vote is not null)
        {
            using var votes = _flat.narrow(0, VoteOffset, PreemptionVote.Length);
            using var local = torch.tensor(_vote.Local());
            votes.copy_(local);
        }
        AverageOnTheWire(group, _flat);
        for (var i = 0; i < _parameters.Count; i++)
        {
            if (_inPlace[i]) continue;
            var parameter = _parameters[i];
            using var view = _flat.narrow(0, _offsets[i], parameter.numel());
            using var shaped = view.view(parameter.shape);
            using var grad = parameter.grad;
            if (grad is null) parameter.grad = shaped.to(parameter.dtype, copy: true);
            else grad.copy_(shaped);
        }
        if (_vote is not null)
        {
            using var votes = _flat.narrow(0, VoteOffset, PreemptionVote.Length);
            using var votesFloats = votes.to(ScalarType.Float32);
            _vote.Report(votesFloats.data<float>().ToArray());
        }
        if (used is null) return;
        using var agreed = _flat.narrow(0, _offsets[^1], used.Length);
        using var agreedFloats = agreed.to(ScalarType.Float32);
        var anyRank = agreedFloats.data<float>().ToArray();
        for (var i = 0; i < _parameters.Count; i++)
        {
            if (anyRank[i] > 0) continue;
            // No rank used it: no gradient, so the optimizer leaves the parameter and its state alone.
            using var grad = _parameters[i].grad;
            _parameters[i].grad = null;
        }
    }

    /// <summary>
    /// Averages in the tensor's own dtype. A float16 average of the group would be summed in float32 (twice the
    /// bytes on the wire); dividing by the world size first, as DDP's all-reduce hook does, keeps the sum from
    /// overflowing with float16 on the wire.
    /// </summary>
    private static void AverageOnTheWire(ProcessGroup group, Tensor gradients)
    {
        if (gradients.dtype != ScalarType.Float16)
        {
            group.AllReduce(gradients, ReduceOp.Average);
            return;
        }
        gradients.div_(group.WorldSize);
        group.AllReduce(gradients, ReduceOp.Sum);
    }
}
