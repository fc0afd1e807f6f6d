using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    private FlatGradients? _eachBatchGradients;

    /// <summary>
    /// <see cref="AcceleratorOptions.SyncEachBatch"/>: on an accumulation step the forward weights'
    /// gradients are averaged across ranks (one flat buffer in their own dtype) before they are kept
    /// aside, so the sum kept aside is the same on every rank.
    /// </summary>
    private void AverageBeforeKeepingAside()
    {
        if (Group is null || !UseDistributed || _models.Count == 0) return;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using (no_grad())
        {
            _eachBatchGradients ??= new FlatGradients(_models.SelectMany(m => m.Slots).Select(s => (Tensor)s.Compute).ToList(), _models.SelectMany(m => m.Slots).First().Compute.dtype);
            _eachBatchGradients.Average(Group);
        }
        GradientSyncTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }
}
