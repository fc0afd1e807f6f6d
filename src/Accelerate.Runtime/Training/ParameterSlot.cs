using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// One trainable parameter of a prepared model: the tensor the forward pass uses (<see cref="Compute"/>)
/// and the tensor the optimizer updates (<see cref="Master"/>). Without mixed precision they are the
/// same object; with it, <see cref="Compute"/> is a reduced-precision copy and <see cref="Master"/>
/// the original fp32 parameter the optimizer was built with.
/// </summary>
internal sealed class ParameterSlot(string name, Parameter compute, Parameter master)
{
    public string Name { get; } = name;
    public Parameter Compute { get; } = compute;
    public Parameter Master { get; } = master;

    /// <summary>Gradients summed over the batches since the last synchronizing step (master dtype), or null.</summary>
    public Tensor? Stash { get; set; }

    /// <summary>
    /// True from a synchronizing backward (after which the optimizer may update the master) until the
    /// master is next copied into <see cref="Compute"/>.
    /// </summary>
    public bool ComputeStale { get; set; }

    public bool HasMaster => !ReferenceEquals(Compute, Master);
}
