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
/// forward on the updated weights. <c>zero_grad()</c> leaves no gradient behind, so its walk copies
/// nothing: one copy per step.
/// </summary>
internal sealed class MasterParameters(IReadOnlyList<Parameter> masters, IReadOnlyList<ParameterSlot> slots, Action<int> copied)
    : IEnumerable<Parameter>
{
    public IEnumerator<Parameter> GetEnumerator()
    {
        foreach (var master in masters) yield return master;
        if (slots.Count == 0) yield break;
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
}
