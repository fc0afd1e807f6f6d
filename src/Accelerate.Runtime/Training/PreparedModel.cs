using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>A model handed to <see cref="Accelerator.PrepareModel{TModule}"/> and the bookkeeping kept for it.</summary>
internal sealed class PreparedModel
{
    private static readonly FieldInfo ParameterRegistry =
        typeof(nn.Module).GetField("_internal_params", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new AccelerateException(RuntimeErrorCode.UnsupportedTorchSharp, "This TorchSharp version keeps module parameters where the runtime does not expect them. Use TorchSharp 0.107.0.");

    private PreparedModel(nn.Module module, IReadOnlyList<ParameterSlot> slots)
    {
        Module = module;
        Slots = slots;
    }

    public nn.Module Module { get; }

    /// <summary>Trainable parameters in <c>parameters()</c> order.</summary>
    public IReadOnlyList<ParameterSlot> Slots { get; }

    /// <summary>Open <see cref="Accelerator.NoSync(nn.Module?)"/> scopes naming this model.</summary>
    public int NoSyncScopes { get; set; }

    /// <summary>Open <see cref="Accelerator.TriggerSyncInBackward"/> scopes naming this model.</summary>
    public int TriggerScopes { get; set; }

    /// <summary>True while gradients of earlier backward passes are kept aside (in the slots' stashes) for the next synchronizing one.</summary>
    public bool Stashed { get; set; }

    /// <summary>The buckets this model's gradients are averaged in after backward; planned at its first synchronizing step.</summary>
    public GradientBuckets? Buckets { get; set; }

    /// <summary>The flat buffer of <see cref="AcceleratorOptions.SyncEachBatch"/>'s averaging on accumulation steps.</summary>
    public FlatGradients? EachBatchGradients { get; set; }

    /// <summary>
    /// Binds a model. With a reduced <paramref name="computeType"/> every floating-point parameter of
    /// the module is replaced by a reduced-precision copy while the original object — the one the
    /// optimizer holds — stays untouched as the fp32 master. TorchSharp's <c>Module.to(dtype)</c>
    /// cannot be used for this: it disposes the original parameters and so the optimizer's.
    /// </summary>
    public static PreparedModel Bind(nn.Module module, ScalarType? computeType)
    {
        var slots = new List<ParameterSlot>();
        var owners = new List<(string prefix, nn.Module owner)> { ("", module) };
        owners.AddRange(module.named_modules().Select(m => (m.name + ".", m.module)));
        foreach (var (prefix, owner) in owners)
        {
            foreach (var (name, parameter) in owner.named_parameters(recurse: false).ToList())
            {
                if (!parameter.requires_grad) continue;
                var compute = parameter;
                if (computeType is { } dtype && parameter.is_floating_point() && parameter.dtype != dtype)
                {
                    // The copy lives as long as the model, whatever dispose scope Prepare was called in.
                    using (torch.no_grad())
                    using (var converted = parameter.detach().to(dtype))
                        compute = (Parameter)new Parameter(converted, requires_grad: true).DetachFromDisposeScope();
                    Replace(owner, name, parameter, compute);
                }
                slots.Add(new ParameterSlot(prefix + name, compute, parameter));
            }
        }
        return new PreparedModel(module, slots);
    }

    /// <summary>Copies the fp32 masters into the reduced-precision parameters the forward pass uses.</summary>
    public void CopyMastersToCompute()
    {
        using var _ = torch.no_grad();
        foreach (var slot in Slots)
            if (slot.HasMaster)
            {
                slot.Compute.copy_(slot.Master);
                slot.ComputeStale = false;
            }
    }

    /// <summary>Copies the masters an optimizer step may have changed since they were last copied; returns how many.</summary>
    public int CopyStaleMastersToCompute()
    {
        using var _ = torch.no_grad();
        var copied = 0;
        foreach (var slot in Slots)
            if (slot.ComputeStale)
            {
                slot.Compute.copy_(slot.Master);
                slot.ComputeStale = false;
                copied++;
            }
        return copied;
    }

    /// <summary>The state a checkpoint holds: fp32 masters for parameters, and every persistent buffer.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var masters = Slots.Where(s => s.HasMaster).ToDictionary(s => s.Compute.Handle, s => (Tensor)s.Master);
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in Module.state_dict())
            state[name] = masters.TryGetValue(tensor.Handle, out var master) ? master : tensor;
        return state;
    }

    /// <summary>Loads a state written by <see cref="StateDict"/> into the masters and the model.</summary>
    public void LoadStateDict(Dictionary<string, Tensor> loaded)
    {
        using var _ = torch.no_grad();
        var current = StateDict();
        var missing = current.Keys.Except(loaded.Keys).ToList();
        if (missing.Count > 0)
            throw new AccelerateException(RuntimeErrorCode.CheckpointOfOtherModel, $"The checkpoint has no value for {string.Join(", ", missing.Take(5))}: it was saved from a different model. Load a checkpoint of this model, or start without one.");
        foreach (var (name, target) in current)
        {
            var source = loaded[name];
            if (!source.shape.SequenceEqual(target.shape))
                throw new AccelerateException(RuntimeErrorCode.CheckpointOfOtherModel, $"The checkpoint's '{name}' has shape [{string.Join(",", source.shape)}] but the model's has [{string.Join(",", target.shape)}]: it was saved from a different model.");
            target.copy_(source);
        }
        CopyMastersToCompute();
    }

    private static void Replace(nn.Module owner, string name, Parameter original, Parameter replacement)
    {
        for (var type = owner.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (typeof(Tensor).IsAssignableFrom(field.FieldType) && ReferenceEquals(field.GetValue(owner), original))
                    field.SetValue(owner, replacement);
            }
        }
        var registry = (IDictionary<string, Parameter>)ParameterRegistry.GetValue(owner)!;
        registry[name] = replacement;
    }
}
