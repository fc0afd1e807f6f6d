using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// The parameter list a prepared optimizer's group holds under mixed precision: the fp32 masters.
/// TorchSharp's optimizers walk this list in <c>step()</c> and <c>zero_grad()</c> and offer no
/// hook; so each time a walk finishes while the masters may have changed since the last copy, the
/// group's masters are copied into the fp16/bf16 parameters the forward pass uses. That way a loop
/// with no prepared loader or scheduler (the template's) also runs its next forward on the updated weights.
/// </summary>
internal sealed class MasterParameters(IReadOnlyList<Parameter> masters, IReadOnlyList<ParameterSlot> slots, Func<bool> mastersMayHaveChanged)
    : IEnumerable<Parameter>
{
    public IEnumerator<Parameter> GetEnumerator()
    {
        foreach (var master in masters) yield return master;
        if (slots.Count == 0 || !mastersMayHaveChanged()) yield break;
        using var _ = torch.no_grad();
        foreach (var slot in slots) slot.Compute.copy_(slot.Master);
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
