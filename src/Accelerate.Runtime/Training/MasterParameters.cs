using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// The parameter list a prepared optimizer's group holds under mixed precision: the fp32 masters.
/// TorchSharp's optimizers walk this list in <c>step()</c> and <c>zero_grad()</c> and offer no
/// hook; so when a walk finishes with gradients on the masters (a step, which updates those, has
/// just walked it), the group's masters are copied into the fp16/bf16 parameters the forward pass
/// uses. That way a loop with no prepared loader or scheduler (the template's) also runs its next
/// forward on the updated weights. <c>zero_grad()</c> walks the list too but changes no master (and
/// TorchSharp's zeroes the gradients rather than dropping them), so its walk copies nothing: one
/// copy per step.
/// </summary>
internal sealed class MasterParameters(IReadOnlyList<Parameter> masters, IReadOnlyList<ParameterSlot> slots, Action<int> copied)
    : IEnumerable<Parameter>
{
    public IEnumerator<Parameter> GetEnumerator()
    {
        foreach (var master in masters) yield return master;
        if (slots.Count == 0 || WalkedByZeroGrad()) yield break;
        // Not gated on ComputeStale: a walk before the step (reading optimizer.parameters()) must not
        // spare the step's own copy. Every gradient is checked: an optimizer step updates each master that has one.
        var count = 0;
        using var _ = torch.no_grad();
        foreach (var slot in slots)
        {
            using var grad = slot.Master.grad;
            if (grad is null) continue;
            slot.Compute.copy_(slot.Master);
            slot.ComputeStale = false;
            count++;
        }
        if (count > 0) copied(count);
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// True when the walk that just ended is <c>zero_grad()</c>'s. TorchSharp offers no hook into an
    /// optimizer, and after <c>zero_grad()</c> the gradients are zeros, not null, so only the caller
    /// tells; a walk from anywhere else copies (an unrecognised caller costs a copy, never a stale weight).
    /// </summary>
    private static bool WalkedByZeroGrad()
    {
        var trace = new System.Diagnostics.StackTrace(1, fNeedFileInfo: false);
        for (var i = 0; i < Math.Min(trace.FrameCount, 4); i++)
            if (trace.GetFrame(i)?.GetMethod()?.Name.Contains("zero_grad", StringComparison.Ordinal) == true) return true;
        return false;
    }
}
