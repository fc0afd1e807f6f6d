using Accelerate.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim.lr_scheduler;

namespace Accelerate;

public partial class Accelerator
{
    private readonly List<PreparedModel> _models = new();
    private readonly List<optim.Optimizer> _optimizers = new();
    private readonly List<AcceleratedScheduler> _schedulers = new();
    private readonly List<IPreparedLoader> _loaders = new();

    /// <summary>Prepares a model, an optimizer, a data loader and a scheduler in one call; see the single-object overloads.</summary>
    public (TModule model, TOptimizer optimizer, DataLoader<T, S> loader, LRScheduler scheduler) Prepare<TModule, TOptimizer, T, S>(TModule model, TOptimizer optimizer, DataLoader<T, S> loader, LRScheduler scheduler)
        where TModule : nn.Module where TOptimizer : optim.Optimizer
    {
        var (m, o, l) = Prepare(model, optimizer, loader);
        return (m, o, l, PrepareScheduler(scheduler));
    }

    /// <summary>Prepares a model, an optimizer and a data loader in one call.</summary>
    public (TModule model, TOptimizer optimizer, DataLoader<T, S> loader) Prepare<TModule, TOptimizer, T, S>(TModule model, TOptimizer optimizer, DataLoader<T, S> loader)
        where TModule : nn.Module where TOptimizer : optim.Optimizer
    {
        var (m, o) = Prepare(model, optimizer);
        return (m, o, PrepareDataLoader(loader));
    }

    /// <summary>Prepares a model and its optimizer in one call.</summary>
    public (TModule model, TOptimizer optimizer) Prepare<TModule, TOptimizer>(TModule model, TOptimizer optimizer)
        where TModule : nn.Module where TOptimizer : optim.Optimizer
        => (PrepareModel(model), PrepareOptimizer(optimizer));

    /// <summary>
    /// Prepares a model and returns the same object: it is moved to <see cref="Device"/>, its
    /// parameters and buffers are copied from rank 0 to every rank, and under mixed precision its
    /// floating-point parameters are replaced by reduced-precision copies for the forward pass while
    /// the original parameters (the ones an optimizer built from <c>model.parameters()</c> holds) stay
    /// in fp32 as master weights; the model then converts fp32 inputs itself where TorchSharp runs
    /// its hooks (see <c>docs/accelerator.md</c>, "Mixed precision"). From now on
    /// <see cref="Backward"/> keeps its gradients in sync.
    /// </summary>
    public TModule PrepareModel<TModule>(TModule model) where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_models.Any(m => ReferenceEquals(m.Module, model))) return model;
        if (Options.DevicePlacement && Device.type != DeviceType.CPU) model.to(Device);
        var prepared = PreparedModel.Bind(model, ComputeType);
        if (ComputeType is { } computeType) PrecisionBoundary.Attach(prepared, computeType);
        if (Group is { } group && UseDistributed)
        {
            using var _ = torch.no_grad();
            foreach (var slot in prepared.Slots) group.Broadcast(slot.Master, 0);
            foreach (var (_, buffer) in model.named_buffers()) group.Broadcast(buffer, 0);
            foreach (var (_, parameter) in model.named_parameters())
                if (!parameter.requires_grad) group.Broadcast(parameter, 0);
            prepared.CopyMastersToCompute();
        }
        _models.Add(prepared);
        if (Group is not null && UseDistributed && Options.OverlapGradientSync)
        {
            _overlap ??= new OverlappedGradientSync(Group) { Armed = m => Syncs(m) && !m.Stashed };
            _overlap.Attach(prepared, Options.DistributedDataParallel.FindUnusedParameters, _preemptionVote);
        }
        return model;
    }

    /// <summary>
    /// Prepares an optimizer and returns the same object. Its <c>step()</c> and <c>zero_grad()</c>
    /// act only on synchronizing steps: on accumulation steps <see cref="Backward"/> keeps the
    /// gradients aside, so the optimizer sees none. Under mixed precision it updates the fp32 master weights.
    /// </summary>
    public TOptimizer PrepareOptimizer<TOptimizer>(TOptimizer optimizer) where TOptimizer : optim.Optimizer
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (_optimizers.Contains(optimizer)) return optimizer;
        BindToMasters(optimizer);
        _optimizers.Add(optimizer);
        return optimizer;
    }

    /// <summary>
    /// Prepares a data loader: returns a TorchSharp <see cref="DataLoader{T, S}"/> that reads this
    /// rank's share of every epoch (rank r gets batches r, r+n, …), shuffled identically on every
    /// rank with a seed that changes per epoch when <paramref name="shuffle"/> is true (by default:
    /// when the given loader shuffles), padded so all ranks take the same number of steps
    /// (<see cref="AcceleratorOptions.EvenBatches"/>), with batches on <see cref="Device"/>.
    /// </summary>
    public DataLoader<T, S> PrepareDataLoader<T, S>(DataLoader<T, S> loader, bool? shuffle = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        if (loader is IPreparedLoader) return loader;
        var prepared = AcceleratedDataLoader<T, S>.Create(loader, this, shuffle ?? Shuffles(loader));
        _loaders.Add(prepared);
        return prepared;
    }

    /// <summary>
    /// Prepares a learning-rate scheduler: returns an <see cref="LRScheduler"/> that steps the given
    /// one only on synchronizing steps whose optimizer step was not skipped, once per process
    /// (once with split batches), as HF accelerate does. It is paired with the prepared optimizer it
    /// was built on, else with the optimizer prepared last.
    /// </summary>
    public LRScheduler PrepareScheduler(LRScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        if (scheduler is AcceleratedScheduler) return scheduler;
        var optimizer = OptimizerOf(scheduler) ?? _optimizers.LastOrDefault()
            ?? throw new AccelerateException(RuntimeErrorCode.SchedulerBeforeOptimizer, "A scheduler was prepared before any optimizer. Prepare the optimizer first, or pass both to one Prepare call.");
        var prepared = new AcceleratedScheduler(scheduler, optimizer, this);
        _schedulers.Add(prepared);
        return prepared;
    }

    /// <summary>Returns the model itself (nothing wraps it) with its forward weights up to date.</summary>
    public TModule UnwrapModel<TModule>(TModule model) where TModule : nn.Module
    {
        AfterOptimizerStep();
        return model;
    }

    /// <summary>
    /// Points the optimizer's parameter groups at the fp32 masters. TorchSharp optimizers keep the
    /// enumerable they were given (<c>model.parameters()</c> is lazy), so after the model's parameters
    /// were swapped for reduced-precision copies they would otherwise read the copies. The list
    /// also brings the copies up to date after each step (<see cref="MasterParameters"/>).
    /// </summary>
    private void BindToMasters(optim.Optimizer optimizer)
    {
        var slots = _models.SelectMany(m => m.Slots).Where(s => s.HasMaster).ToList();
        var masters = slots.ToDictionary(s => s.Compute.Handle, s => s.Master);
        if (masters.Count == 0) return;
        var state = OptimizerStateField?.GetValue(optimizer);
        var containsKey = state?.GetType().GetMethod("ContainsKey");
        if (containsKey is not null && masters.Keys.Any(h => (bool)containsKey.Invoke(state, new object[] { h })!))
            throw new AccelerateException(RuntimeErrorCode.OptimizerOfConvertedModel, "The optimizer was built from the reduced-precision parameters of an already prepared model. Create the optimizer from model.parameters() before preparing the model (or pass both to one Prepare call), so that it updates the fp32 master weights.");
        var slotOfMaster = slots.ToDictionary(s => s.Master.Handle);
        foreach (var group in optimizer.ParamGroups.OfType<ParamGroup>())
        {
            var bound = group.Parameters.Select(p => masters.TryGetValue(p.Handle, out var master) ? master : p).ToList();
            var boundSlots = bound.Select(p => slotOfMaster.GetValueOrDefault(p.Handle)).OfType<ParameterSlot>().ToList();
            group.Parameters = new MasterParameters(bound, boundSlots, CountMasterCopies);
        }
    }

    private static readonly System.Reflection.FieldInfo? OptimizerStateField =
        typeof(OptimizerHelper).GetField("_state", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public);

    private static bool Shuffles<T, S>(DataLoader<T, S> loader)
    {
        long expected = 0;
        foreach (var index in loader.sampler)
            if (index != expected++) return true;
        return false;
    }
}
