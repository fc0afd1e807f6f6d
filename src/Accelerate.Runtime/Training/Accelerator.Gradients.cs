using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    private GradientBuckets? _buckets;
    private OverlappedGradientSync? _overlap;

    /// <summary>Gradient buckets whose all-reduce started while backward was still running.</summary>
    public long OverlappedBuckets => _overlap?.OverlappedBuckets ?? 0;

    /// <summary>Wall time spent averaging gradients across ranks so far (packing, all-reduce, unpacking).</summary>
    public TimeSpan GradientSyncTime { get; private set; }
    private bool _computeStale;
    private bool _explicitAccumulation;
    private int _accumulationStep;
    private bool _loaderAdvanced;
    private bool _stashed;
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
        AgreeOnPreemption();
        CheckParametersInSync();
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

    /// <summary>A scope whose backward passes only accumulate locally; the first synchronizing backward after it averages the sum.</summary>
    public IDisposable NoSync(nn.Module? model = null)
    {
        var previous = SyncGradients;
        SyncGradients = false;
        return new Scope(() => SyncGradients = previous);
    }

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

    /// <summary>Brings the reduced-precision forward weights up to date with the fp32 masters after an optimizer step.</summary>
    internal void AfterOptimizerStep()
    {
        if (!_computeStale) return;
        _computeStale = false;
        foreach (var model in _models) model.CopyMastersToCompute();
    }

    private void AdvanceAccumulation()
    {
        if (EndOfDataLoader && Options.SyncWithDataLoader)
        {
            _accumulationStep = 0;
            SyncGradients = true;
            return;
        }
        _accumulationStep++;
        SyncGradients = _accumulationStep % GradientAccumulationSteps == 0;
    }

    private void AfterBackward()
    {
        var slots = _models.SelectMany(m => m.Slots);
        if (!SyncGradients)
        {
            if (Options.SyncEachBatch) AverageBeforeKeepingAside();
            foreach (var slot in slots) KeepAside(slot);
            _stashed = true;
            return;
        }
        if (!_stashed && !UseDistributed && LossScaler is null && ComputeType is null)
        {
            // One process, full precision, nothing accumulated: the gradients are already where the optimizer reads them.
            OptimizerStepWasSkipped = false;
            Step++;
            return;
        }
        var overlapped = _overlap is not null && !_stashed;
        _stashed = false;

        using (torch.no_grad())
        {
            if (overlapped)
            {
                // The reduction of the reduced-precision (or only) gradients started during backward.
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                _overlap!.Finish();
                GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
            }
            foreach (var slot in slots) MoveToMaster(slot);
            if (UseDistributed && _models.Count > 0 && !overlapped)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                _buckets ??= new GradientBuckets(_models.SelectMany(m => m.Slots).ToList(), (long)(Options.BucketCapMb * 1024 * 1024), ComputeType ?? _models[0].Slots.FirstOrDefault()?.Master.dtype ?? ScalarType.Float32);
                _buckets.Average(Group!);
                GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
            }

            var skipped = false;
            if (LossScaler is { } scaler)
            {
                var nonFinite = Unscale(_models.SelectMany(m => m.Slots), 1.0 / scaler.Scale);
                scaler.Update(nonFinite);
                if (nonFinite)
                {
                    skipped = true;
                    foreach (var slot in _models.SelectMany(m => m.Slots)) slot.Master.grad = null;
                }
            }
            OptimizerStepWasSkipped = skipped;
            if (!skipped) Step++;
        }
        if (_models.Any(m => m.Slots.Any(s => s.HasMaster))) _computeStale = true;
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
