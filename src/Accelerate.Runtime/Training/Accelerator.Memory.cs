namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// Lets go of everything prepared, as HF's <c>free_memory()</c>, for a second training with other
    /// models in the same process: the accelerator forgets its prepared models, optimizers, schedulers
    /// and data loaders, disposes the gradients set aside on accumulation steps and its all-reduce
    /// buffers, removes the hooks that start the gradient all-reduce during backward, resets the
    /// accumulation counter, and runs the garbage collector so that tensors nothing else references
    /// are freed now rather than at some later collection. The models keep their weights (under mixed
    /// precision the reduced-precision copies, brought up to date first). Objects prepared before no
    /// longer take part in <see cref="Backward"/>, <see cref="SaveState(string?)"/> or the gradient
    /// sync; prepare the next ones afresh. <see cref="Step"/> and objects registered for
    /// checkpointing are kept.
    /// </summary>
    public void FreeMemory()
    {
        AfterOptimizerStep();
        foreach (var slot in _models.SelectMany(m => m.Slots))
        {
            slot.Stash?.Dispose();
            slot.Stash = null;
        }
        _overlap?.Dispose();
        _overlap = null;
        _models.Clear();
        _optimizers.Clear();
        _schedulers.Clear();
        _loaders.Clear();
        _activeLoader = null;
        _accumulationStep = 0;
        _explicitAccumulation = false;
        _loaderAdvanced = false;
        _syncState = true;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
