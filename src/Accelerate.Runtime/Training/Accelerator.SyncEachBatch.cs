using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// <see cref="AcceleratorOptions.SyncEachBatch"/>: on an accumulation step the forward weights'
    /// gradients of <paramref name="models"/> are averaged across ranks (one flat buffer per model in
    /// their own dtype) before they are kept aside, so the sum kept aside is the same on every rank.
    /// </summary>
    private void AverageBeforeKeepingAside(IEnumerable<PreparedModel> models)
    {
        if (Group is null || !UseDistributed) return;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using (no_grad())
        {
            foreach (var model in models)
            {
                if (model.Slots.Count == 0) continue;
                model.EachBatchGradients ??= new FlatGradients(model.Slots.Select(s => (Tensor)s.Compute).ToList(), model.Slots[0].Compute.dtype, Options.DistributedDataParallel.FindUnusedParameters);
                model.EachBatchGradients.Average(Group);
            }
        }
        GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }
}
