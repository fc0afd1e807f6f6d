using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    private OverlappedGradientSync? _overlap;

    /// <summary>Gradient buckets whose all-reduce started while backward was still running.</summary>
    public long OverlappedBuckets => _overlap?.OverlappedBuckets ?? 0;

    /// <summary>Wall time spent averaging gradients across ranks so far (packing, all-reduce, unpacking; and broadcasting buffers).</summary>
    public TimeSpan GradientSyncTime { get; private set; }
    private bool _explicitAccumulation;
    private int _accumulationStep;
    private bool _loaderAdvanced;
    private IPreparedLoader? _activeLoader;

    /// <summary>
    /// Runs backward for <paramref name="loss"/>: divides it by <see cref="GradientAccumulationSteps"/>,
    /// multiplies it by the loss scale under fp16, and then — on a synchronizing step — averages the
    /// gradients across ranks (in buckets, reverse parameter order) into the parameters the optimizer
    /// holds, unscaled, skipping the step on inf/NaN under fp16; on an accumulation step it keeps them
    /// aside so that <c>optimizer.step()</c> does nothing.
    /// </summary>
    public void Backward(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (loss.IsInvalid)
            throw new AccelerateException(RuntimeErrorCode.LossDisposed, "The loss given to Backward was already disposed (Dispose was called on it, or the dispose scope it was computed in has ended). Call Backward inside the scope that computed the loss, before disposing it.");
        if (!loss.requires_grad)
            throw new AccelerateException(RuntimeErrorCode.LossNeedsNoGradient, "The loss given to Backward does not depend on anything that needs a gradient: it was computed under torch.no_grad(), from detached tensors, or from a model whose parameters do not require gradients. Compute the loss from the prepared model's output outside no_grad.");
        if (loss.numel() != 1)
            throw new AccelerateException(RuntimeErrorCode.LossNotScalar, $"The loss given to Backward has shape [{string.Join(", ", loss.shape)}], not a single value. Reduce it first, e.g. loss.mean() or loss.sum() (or use the loss function's default reduction).");
        Resume();
        CheckParametersInSync();
        var voting = StartPreemptionVote();
        var factor = 1.0 / GradientAccumulationSteps;
        if (LossScaler is { } scaler) factor *= scaler.Scale;
        try
        {
            if (factor == 1.0) loss.backward();
            else
            {
                using var scaled = loss * factor;
                scaled.backward();
            }
        }
        catch (System.Runtime.InteropServices.ExternalException e) when (e.Message.Contains("backward through the graph a second time"))
        {
            throw new AccelerateException(RuntimeErrorCode.BackwardTwice, "Backward ran a second time through the same forward pass, whose intermediate values the first backward already freed. Call Backward once per forward pass; to train on several losses of one pass, add them up and call Backward once with the sum.", e);
        }
        AfterBackward();
        if (voting) FinishPreemptionVote();
    }

    /// <summary>
    /// A scope for one batch under gradient accumulation (HF's <c>accumulate</c>): every
    /// <see cref="GradientAccumulationSteps"/>-th call, and the last batch of an epoch, synchronizes;
    /// the others only accumulate. Once used, the accelerator leaves counting to these scopes; without
    /// them a prepared data loader counts batches itself.
    /// </summary>
    public IDisposable Accumulate(params nn.Module[] models)
    {
        _explicitAccumulation = true;
        if (_loaderAdvanced) _loaderAdvanced = false;
        else AdvanceAccumulation();
        return new Scope(null);
    }

    /// <summary>
    /// A scope whose backward passes do not synchronize gradients (HF's <c>no_sync</c>, DDP's
    /// <c>no_sync()</c>): they accumulate locally, kept aside so that <c>optimizer.step()</c> does
    /// nothing, and the first synchronizing backward after the scope averages their sum with its own.
    /// With a <paramref name="model"/>, only that prepared model stops synchronizing; the others
    /// average their gradients as usual (and <see cref="SyncGradients"/> stays true while some model
    /// synchronizes). Without one, no model synchronizes and <see cref="SyncGradients"/> is false.
    /// Scopes nest; disposing one restores what was before it.
    /// </summary>
    public IDisposable NoSync(nn.Module? model = null)
    {
        if (model is null)
        {
            var previous = _syncState;
            _syncState = false;
            return new Scope(() => _syncState = previous);
        }
        var prepared = PreparedOf(model, nameof(NoSync));
        prepared.NoSyncScopes++;
        return new Scope(() => prepared.NoSyncScopes--);
    }

    /// <summary>
    /// A scope whose backward passes synchronize <paramref name="model"/>'s gradients even inside
    /// <see cref="NoSync"/> or on an accumulation step (HF's <c>trigger_sync_in_backward</c>): the
    /// way to end an accumulation loop written inside <c>NoSync(model)</c> with a synchronizing
    /// backward, which averages everything accumulated since the last one. Open it before the
    /// backward (the forward may have run inside <c>NoSync</c>).
    /// </summary>
    public IDisposable TriggerSyncInBackward(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var prepared = PreparedOf(model, nameof(TriggerSyncInBackward));
        prepared.TriggerScopes++;
        return new Scope(() => prepared.TriggerScopes--);
    }

    private PreparedModel PreparedOf(nn.Module model, string caller) =>
        _models.FirstOrDefault(m => ReferenceEquals(m.Module, model))
        ?? throw new AccelerateException(RuntimeErrorCode.ModelNotPrepared, $"{caller} was given a {model.GetType().Name} this accelerator has not prepared, so it cannot change how its gradients are synchronized. Pass the model Prepare/PrepareModel returned (prepare it first; FreeMemory forgets prepared models), or call NoSync() without a model to stop the sync of every model.");

    /// <summary>True when <paramref name="model"/>'s gradients are averaged in the current backward.</summary>
    private bool Syncs(PreparedModel model) => model.TriggerScopes > 0 || (_syncState && model.NoSyncScopes == 0);

    /// <summary>Clips the gradient norm of the optimizer's view of <paramref name="parameters"/> (fp32 masters, already unscaled) and returns the total norm.</summary>
    public double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm, double normType = 2.0)
        => nn.utils.clip_grad_norm_(MastersOf(parameters).ToList(), maxNorm, normType);

    /// <summary>Clamps every gradient of the optimizer's view of <paramref name="parameters"/> to [-clipValue, clipValue].</summary>
    public void ClipGradValue(IEnumerable<Parameter> parameters, double clipValue)
        => nn.utils.clip_grad_value_(MastersOf(parameters).ToList(), clipValue);

    internal void OnEpochStart(IPreparedLoader loader)
    {
        _activeLoader = loader;
        AfterOptimizerStep();
    }

    internal void OnBatch(IPreparedLoader loader)
    {
        _activeLoader = loader;
        AfterOptimizerStep();
        // The loader counts batches for accumulation until an Accumulate scope takes over; the batch
        // it already counted is not counted again by the first scope.
        if (_explicitAccumulation || GradientAccumulationSteps == 1) return;
        AdvanceAccumulation();
        _loaderAdvanced = true;
    }

    internal void OnEpochEnd(IPreparedLoader loader) => AfterOptimizerStep();

    /// <summary>Brings the reduced-precision forward weights up to date with the fp32 masters after an optimizer step (those the step's own walk did not copy).</summary>
    internal void AfterOptimizerStep()
    {
        foreach (var model in _models) CountMasterCopies(model.CopyStaleMastersToCompute());
    }

    /// <summary>Parameters copied from the fp32 masters into the reduced-precision forward weights so far (one per parameter per optimizer step is enough).</summary>
    internal long MasterCopies { get; private set; }

    private void CountMasterCopies(int parameters) => MasterCopies += parameters;

    private void AdvanceAccumulation()
    {
        if (EndOfDataLoader && Options.SyncWithDataLoader)
        {
            _accumulationStep = 0;
            _syncState = true;
            return;
        }
        _accumulationStep++;
        _syncState = _accumulationStep % GradientAccumulationSteps == 0;
    }

    private void AfterBackward()
    {
        var syncing = _models.Where(Syncs).ToList();
        var keeping = _models.Where(m => !Syncs(m)).ToList();
        if (_overlap is not null)
        {
            // The buckets of models that synchronize with nothing kept aside went out during backward:
            // wait for them before any other collective, so every rank makes its calls in the same order.
            var overlapped = syncing.Any(m => !m.Stashed);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _overlap.Finish();
            if (overlapped) GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
        if (keeping.Count > 0)
        {
            // SyncEachBatch stands for accumulation steps; a model in its own NoSync scope is not averaged.
            if (Options.SyncEachBatch && !_syncState) AverageBeforeKeepingAside(keeping.Where(m => m.NoSyncScopes == 0));
            foreach (var model in keeping)
            {
                foreach (var slot in model.Slots) KeepAside(slot);
                model.Stashed = true;
            }
        }
        if (!SyncGradients) return;
        if (!UseDistributed && LossScaler is null && ComputeType is null && syncing.All(m => !m.Stashed))
        {
            // One process, full precision, nothing accumulated: the gradients are already where the optimizer reads them.
            OptimizerStepWasSkipped = false;
            Step++;
            return;
        }
        var slots = syncing.SelectMany(m => m.Slots).ToList();

        using (torch.no_grad())
        {
            foreach (var slot in slots) MoveToMaster(slot);
            if (UseDistributed)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var ddp = Options.DistributedDataParallel;
                foreach (var model in syncing)
                {
                    // Reduced during backward already (on the reduced-precision gradients).
                    if (_overlap is not null && !model.Stashed) continue;
                    model.Buckets ??= new GradientBuckets(model.Slots, (long)(ddp.BucketCapMb * 1024 * 1024), ComputeType ?? model.Slots.FirstOrDefault()?.Master.dtype ?? ScalarType.Float32, ddp.FindUnusedParameters, _preemptionVote);
                    model.Buckets.Average(Group!);
                }
                if (ddp.BroadcastBuffers)
                    foreach (var model in syncing) BroadcastBuffers(model);
                GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
            }
            foreach (var model in syncing) model.Stashed = false;

            var skipped = false;
            if (LossScaler is { } scaler)
            {
                var nonFinite = Unscale(slots, 1.0 / scaler.Scale);
                scaler.Update(nonFinite);
                if (nonFinite)
                {
                    skipped = true;
                    foreach (var slot in slots) slot.Master.grad = null;
                }
            }
            OptimizerStepWasSkipped = skipped;
            if (!skipped) Step++;
            else return;
        }
        foreach (var slot in slots)
            if (slot.HasMaster) slot.ComputeStale = true;
    }

    /// <summary>
    /// <see cref="DistributedDataParallelOptions.BroadcastBuffers"/>: rank 0's buffers (BatchNorm's
    /// running statistics, …) replace every rank's, one broadcast per dtype.
    /// </summary>
    private void BroadcastBuffers(PreparedModel model)
    {
        foreach (var sameType in model.Module.named_buffers().Select(b => b.buffer).GroupBy(b => b.dtype))
        {
            var buffers = sameType.ToList();
            if (buffers.Count == 1)
            {
                Group!.Broadcast(buffers[0], 0);
                continue;
            }
            using var temporaries = torch.NewDisposeScope();
            var flat = torch.cat(buffers.Select(b => b.reshape(-1)).ToList());
            Group!.Broadcast(flat, 0);
            long offset = 0;
            foreach (var buffer in buffers)
            {
                buffer.copy_(flat.narrow(0, offset, buffer.numel()).view(buffer.shape));
                offset += buffer.numel();
            }
        }
    }

    /// <summary>
    /// An accumulation step: the gradient leaves the parameter (so the optimizer sees none) and joins
    /// the stash. The stash lives until the synchronizing step, so it is taken out of any dispose
    /// scope the user opened around this step.
    /// </summary>
    private static void KeepAside(ParameterSlot slot)
    {
        var grad = slot.Compute.grad;
        if (grad is null) return;
        slot.Compute.grad = null;
        if (slot.Stash is null)
        {
            if (slot.HasMaster)
            {
                slot.Stash = grad.to(slot.Master.dtype, copy: true).DetachFromDisposeScope();
                grad.Dispose();
            }
            else slot.Stash = grad.DetachFromDisposeScope();
        }
        else
        {
            slot.Stash.add_(grad);
            grad.Dispose();
        }
    }

    /// <summary>A synchronizing step: this batch's gradient plus the stash becomes the master's gradient.</summary>
    private static void MoveToMaster(ParameterSlot slot)
    {
        var stash = slot.Stash;
        slot.Stash = null;
        if (!slot.HasMaster)
        {
            if (stash is null) return;
            using var current = slot.Master.grad;
            if (current is null) slot.Master.grad = stash;
            else current.add_(stash);
            stash.Dispose();
            return;
        }

        using var grad = slot.Compute.grad;
        slot.Compute.grad = null;
        Tensor? sum = stash;
        if (grad is not null)
        {
            if (sum is null) sum = grad.to(slot.Master.dtype, copy: true);
            else sum.add_(grad);
        }
        if (sum is null) return;
        using (var existing = slot.Master.grad)
        {
            if (existing is null) slot.Master.grad = sum;
            else existing.add_(sum);
        }
        sum.Dispose();
    }

    private static bool Unscale(IEnumerable<ParameterSlot> slots, double factor)
    {
        var nonFinite = false;
        foreach (var slot in slots)
        {
            using var grad = slot.Master.grad;
            if (grad is null) continue;
            grad.mul_(factor);
            using var finite = grad.isfinite().all();
            if (!finite.item<bool>()) nonFinite = true;
        }
        return nonFinite;
    }

    private IEnumerable<Parameter> MastersOf(IEnumerable<Parameter> parameters)
    {
        var masters = _models.SelectMany(m => m.Slots).ToDictionary(s => s.Compute.Handle, s => s.Master);
        foreach (var parameter in parameters)
            yield return masters.TryGetValue(parameter.Handle, out var master) ? master : parameter;
    }

    private sealed class Scope(Action? onExit) : IDisposable
    {
        private Action? _onExit = onExit;

        public void Dispose()
        {
            _onExit?.Invoke();
            _onExit = null;
        }
    }
}
