using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// <see cref="AcceleratorOptions.CheckParameterSyncEvery"/>: at the backward of every N-th synchronizing
    /// step (before backward, so no gradient all-reduce runs alongside), every rank computes two float64
    /// checksums per trainable parameter — the sum, and the sum weighted by position (so that moved values
    /// show too) — and all-gathers them. Ranks holding the same parameters, as DDP keeps them, have
    /// bit-identical checksums; the first parameter whose checksums differ fails the step on every rank
    /// with ACC2114.
    /// </summary>
    private void CheckParametersInSync()
    {
        if (CheckParameterSyncEvery <= 0 || !UseDistributed || !SyncGradients || Step % CheckParameterSyncEvery != 0 || _models.Count == 0) return;
        var slots = _models.SelectMany(m => m.Slots).ToList();
        var mine = new double[slots.Count * 2];
        using (torch.no_grad())
        using (torch.NewDisposeScope())
        {
            for (var i = 0; i < slots.Count; i++)
            {
                var values = slots[i].Master.detach().flatten().to(ScalarType.Float64);
                var n = values.numel();
                var positions = torch.arange(1, n + 1, ScalarType.Float64, values.device) / n;
                mine[2 * i] = values.sum().cpu().item<double>();
                mine[2 * i + 1] = (values * positions).sum().cpu().item<double>();
            }
        }
        var all = Group!.AllGather<double>(mine);
        bool Differs(int parameter) => all.Any(r =>
            BitConverter.DoubleToInt64Bits(r[2 * parameter]) != BitConverter.DoubleToInt64Bits(all[0][2 * parameter]) ||
            BitConverter.DoubleToInt64Bits(r[2 * parameter + 1]) != BitConverter.DoubleToInt64Bits(all[0][2 * parameter + 1]));
        for (var i = 0; i < slots.Count; i++)
        {
            if (!Differs(i)) continue;
            var differing = Enumerable.Range(i, slots.Count - i).Count(Differs);
            var values = string.Join(", ", all.Select((r, rank) => $"rank {rank}: sum {r[2 * i].ToString("R", CultureInfo.InvariantCulture)}, weighted sum {r[2 * i + 1].ToString("R", CultureInfo.InvariantCulture)}"));
            throw new AccelerateException(RuntimeErrorCode.ParametersDiverged,
                $"The ranks no longer hold the same parameters after {Step} optimizer steps (CheckParameterSyncEvery={CheckParameterSyncEvery}): '{slots[i].Name}' is the first that differs" +
                (differing > 1 ? $" ({differing} parameters from it on differ)" : "") + $" — {values}. " +
                "Something changed parameters on some ranks only: code under `if (accelerator.IsMainProcess)` or a rank-dependent branch that writes to the model, an update outside the optimizer, " +
                "or loading a checkpoint on one rank. Change parameters on every rank alike (or only through the optimizer), and load checkpoints with LoadState on every rank.");
        }
    }
}
