using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// An identity placed on a module's input during forward. Autograd runs its backward once the
/// gradient of that input is known — which is when the module's own parameter gradients have just
/// been accumulated — so it is the signal that the module's gradients are ready to be all-reduced.
/// TorchSharp offers no tensor or grad-accumulator hooks; a custom autograd function is the only way.
/// </summary>
internal sealed class GradientReadySignal : torch.autograd.SingleTensorFunction<GradientReadySignal>
{
    public override string Name => nameof(GradientReadySignal);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("module", vars[1]);
        var input = (Tensor)vars[0];
        return input.view(input.shape);
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        ((OverlappedGradientSync.ModuleBucket)ctx.get_data("module")).SignalReady();
        return new List<Tensor> { grad_output, null! };
    }
}
