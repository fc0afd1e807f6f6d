using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Lets a model whose parameters were converted to fp16/bf16 take fp32 inputs, as far as TorchSharp
/// allows without autocast or a wrapper type (module hooks run only through <c>call</c>, never
/// through <c>forward</c>). Every module that owns converted parameters converts a floating-point
/// input to the compute dtype before its forward. The model's boundary — the model itself when run
/// with <c>call</c>, and for a <c>Sequential</c> its first and last children, which its
/// <c>forward</c> runs with <c>call</c> — hands the output back in the dtype the input came in:
/// fp32 in, fp32 out; fp16/bf16 in (from a prepared loader or <c>SplitRowsBetweenProcesses</c>),
/// fp16/bf16 out, to match targets that came the same way (libtorch's losses refuse mixed dtypes).
/// </summary>
internal sealed class PrecisionBoundary
{
    private readonly ScalarType _compute;

    // The dtype each open boundary was entered with (null: no conversion); per thread, as forward is.
    private readonly ThreadLocal<Stack<ScalarType?>> _entered = new(() => new Stack<ScalarType?>());

    private PrecisionBoundary(ScalarType compute) => _compute = compute;

    public static void Attach(PreparedModel model, ScalarType compute)
    {
        var boundary = new PrecisionBoundary(compute);
        var root = model.Module;
        // Boundaries first, so that they see the input as the caller passed it.
        if (root is nn.Module<Tensor, Tensor> whole) boundary.Mark(whole, whole);
        if (root is Sequential sequential && sequential.children().ToList() is { Count: > 0 } children &&
            children[0] is nn.Module<Tensor, Tensor> first && children[^1] is nn.Module<Tensor, Tensor> last)
            boundary.Mark(first, last);

        var converted = model.Slots.Where(s => s.HasMaster).Select(s => s.Compute.Handle).ToHashSet();
        foreach (var module in new[] { root }.Concat(root.modules()).Distinct())
        {
            if (module is nn.Module<Tensor, Tensor> owner && owner.named_parameters(recurse: false).Any(p => converted.Contains(p.parameter.Handle)))
                owner.register_forward_pre_hook((_, input) => boundary.ToCompute(input));
        }
    }

    private void Mark(nn.Module<Tensor, Tensor> entry, nn.Module<Tensor, Tensor> exit)
    {
        entry.register_forward_pre_hook((_, input) => Enter(input));
        exit.register_forward_hook((_, _, output) => Leave(output));
    }

    private Tensor Enter(Tensor input)
    {
        var convert = NeedsConversion(input);
        _entered.Value!.Push(convert ? input.dtype : null);
        return convert ? input.to(_compute) : input;
    }

    private Tensor Leave(Tensor output)
    {
        // A forward that threw left its entry behind; entries are matched last-in first-out, so it only lingers.
        if (!_entered.Value!.TryPop(out var original) || original is not { } dtype) return output;
        return output.is_floating_point() && output.dtype != dtype ? output.to(dtype) : output;
    }

    private Tensor ToCompute(Tensor input) => NeedsConversion(input) ? input.to(_compute) : input;

    private bool NeedsConversion(Tensor input) => input.is_floating_point() && input.dtype != _compute;
}
