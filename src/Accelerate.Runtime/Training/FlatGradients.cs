using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// The gradients of a group of parameters packed into one flat tensor, so that a group is averaged
/// across ranks with a single all-reduce. Used by the after-backward buckets and by the buckets
/// reduced while backward runs.
/// </summary>
internal sealed class FlatGradients
{
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly long[] _offsets;
    private readonly ScalarType _wireType;
    private readonly bool[] _inPlace;
    private Tensor? _flat;

    // A gradient this large already amortizes the cost of one all-reduce call; packing it would
    // only add two copies of it (about half the sync time of a 4 MB layer on shared memory).
    private const long InPlaceBytes = 1 << 20;

    public FlatGradients(IReadOnlyList<Tensor> parameters, ScalarType wireType)
    {
        _parameters = parameters;
        _wireType = wireType;
        _offsets = new long[parameters.Count + 1];
        // Decided from shapes and dtypes alone, so every rank makes the same calls in the same order.
        _inPlace = parameters.Select(p => p.dtype == wireType && p.numel() * p.element_size() >= InPlaceBytes).ToArray();
        for (var i = 0; i < parameters.Count; i++) _offsets[i + 1] = _offsets[i] + (_inPlace[i] ? 0 : parameters[i].numel());
    }

    /// <summary>Replaces every parameter's gradient by its average over the ranks of <paramref name="group"/> (a missing gradient counts as zero).</summary>
    public void Average(ProcessGroup group)
    {
        using var _ = torch.no_grad();
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
            using (grad) group.AllReduce(grad, ReduceOp.Average);
        }
        if (_offsets[^1] == 0) return;
        // Built lazily inside the user's step; it must outlive any dispose scope open there.
        _flat ??= torch.zeros(_offsets[^1], dtype: _wireType, device: _parameters[0].device).DetachFromDisposeScope();
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
        group.AllReduce(_flat, ReduceOp.Average);
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
    }
}
