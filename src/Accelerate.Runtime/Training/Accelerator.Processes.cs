using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>Every rank's <paramref name="tensor"/> concatenated along dim 0 in rank order (a scalar becomes one row per rank).</summary>
    public Tensor Gather(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var rows = tensor.dim() == 0 ? tensor.unsqueeze(0) : tensor;
        if (Group is null || !UseDistributed) return ReferenceEquals(rows, tensor) ? tensor.clone() : rows;
        // Ranks first learn each other's row counts (as an uneven gather would anyway): the same on every rank, the
        // common case, the result is allocated once and every rank's rows land in place, with no concatenation after.
        using var mine = torch.tensor(new[] { rows.shape[0] });
        using var counts = torch.empty(Group.WorldSize, ScalarType.Int64);
        Group.AllGatherInto(counts, mine);
        var rowCounts = counts.data<long>().ToArray();
        if (rowCounts.All(r => r == rowCounts[0]))
        {
            var gathered = torch.empty([Group.WorldSize * rowCounts[0], .. rows.shape.Skip(1)], rows.dtype, rows.device);
            Group.AllGatherInto(gathered, rows);
            return gathered;
        }
        var parts = Group.AllGather(rows.contiguous());
        var result = torch.cat(parts, 0);
        foreach (var part in parts) part.Dispose();
        return result;
    }

    /// <summary>
    /// <see cref="Gather(Tensor)"/> for evaluation: on the last batch of a prepared loader's epoch it drops
    /// the samples <see cref="AcceleratorOptions.EvenBatches"/> repeated to pad the ranks, so that
    /// gathering every batch of an epoch yields each sample of the dataset exactly once.
    /// </summary>
    public Tensor GatherForMetrics(Tensor tensor)
    {
        var gathered = Gather(tensor);
        if (_activeLoader is not { AtLastBatch: true } loader) return gathered;
        var keep = loader.Remainder;
        if (keep <= 0 || keep >= gathered.shape[0]) return gathered;
        var trimmed = gathered.narrow(0, 0, keep).clone();
        gathered.Dispose();
        return trimmed;
    }

    /// <summary>Every rank's items, in rank order, with the padded duplicates of an epoch's last batch dropped (objects travel as JSON).</summary>
    public IReadOnlyList<T> GatherForMetrics<T>(IReadOnlyList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var all = Group is null || !UseDistributed ? items.ToList() : Group.AllGatherObject(items.ToArray()).SelectMany(x => x).ToList();
        if (_activeLoader is { AtLastBatch: true } loader && loader.Remainder > 0 && loader.Remainder < all.Count)
            return all.Take((int)loader.Remainder).ToList();
        return all;
    }

    /// <summary>Combines <paramref name="tensor"/> over all ranks (sum, mean, max, …); every rank gets the result, the input is left unchanged.</summary>
    public Tensor Reduce(Tensor tensor, ReduceOp reduction = ReduceOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var result = tensor.clone().contiguous();
        if (Group is not null && UseDistributed) Group.AllReduce(result, reduction);
        return result;
    }

    /// <summary>
    /// Pads <paramref name="tensor"/> along <paramref name="dim"/> with <paramref name="padIndex"/> to
    /// the largest size any rank has there, so tensors of uneven length can be gathered.
    /// </summary>
    public Tensor PadAcrossProcesses(Tensor tensor, int dim = 0, double padIndex = 0, bool padFirst = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (Group is null || !UseDistributed || tensor.dim() == 0) return tensor;
        if (dim < 0) dim += (int)tensor.dim();
        var sizes = Group.AllGatherObject(tensor.shape[dim]);
        var max = sizes.Max();
        if (max == tensor.shape[dim]) return tensor;
        var shape = tensor.shape.ToArray();
        shape[dim] = max;
        var padded = torch.full(shape, padIndex, dtype: tensor.dtype, device: tensor.device);
        var start = padFirst ? max - tensor.shape[dim] : 0;
        using (var target = padded.narrow(dim, start, tensor.shape[dim])) target.copy_(tensor);
        return padded;
    }

    /// <summary>
    /// This rank's contiguous share of <paramref name="items"/>: the first <c>count % n</c> ranks get one
    /// more. With <paramref name="applyPadding"/> every share is made as long as the longest by
    /// repeating the last item, so collectives over the shares line up.
    /// </summary>
    public IReadOnlyList<T> SplitBetweenProcesses<T>(IReadOnlyList<T> items, bool applyPadding = false)
    {
        ArgumentNullException.ThrowIfNull(items);
        var (start, length, longest) = Share(items.Count);
        var share = items.Skip(start).Take(length).ToList();
        if (applyPadding && items.Count > 0)
            while (share.Count < longest) share.Add(share.Count > 0 ? share[^1] : items[^1]);
        return share;
    }

    /// <summary>
    /// This rank's contiguous share of the rows of <paramref name="tensor"/> (dim 0), split as
    /// <see cref="SplitBetweenProcesses{T}"/>. Under mixed precision a floating-point tensor comes
    /// back in the compute dtype (<see cref="ComputeType"/>), as a prepared loader's batches do.
    /// </summary>
    public Tensor SplitRowsBetweenProcesses(Tensor tensor, bool applyPadding = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dim() == 0)
            throw new AccelerateException(RuntimeErrorCode.ScalarHasNoRows, "SplitRowsBetweenProcesses was given a scalar tensor, which has no rows to split. Pass a tensor whose first dimension holds the rows (unsqueeze(0) a single value), or SplitBetweenProcesses for a list.");
        var (start, length, longest) = Share((int)tensor.shape[0]);
        var share = tensor.narrow(0, start, length);
        if (applyPadding && length != longest && tensor.shape[0] != 0)
        {
            var last = length > 0 ? share.narrow(0, length - 1, 1) : tensor.narrow(0, tensor.shape[0] - 1, 1);
            var repeats = Enumerable.Repeat(last, longest - length);
            share = torch.cat(new[] { share }.Concat(repeats).ToArray(), 0);
        }
        return ComputeType is { } dtype && share.is_floating_point() && share.dtype != dtype ? share.to(dtype) : share;
    }

    /// <summary>Prints on the local main process only.</summary>
    public void Print(object? value)
    {
        if (IsLocalMainProcess) Console.WriteLine(value);
    }

    /// <summary>Returns when every rank has called it; does nothing in a single process.</summary>
    public void WaitForEveryone()
    {
        if (Group is not null && UseDistributed) Group.Barrier();
    }

    /// <summary>A scope the main process runs first; the other ranks enter it once the main process has left it (e.g. to download or preprocess once).</summary>
    public IDisposable MainProcessFirst() => InOrder(IsMainProcess);

    /// <summary>A scope each machine's local main process runs first, the other ranks after it.</summary>
    public IDisposable LocalMainProcessFirst() => InOrder(IsLocalMainProcess);

    /// <summary>
    /// Seeds TorchSharp's generators (CPU and CUDA). With <paramref name="deviceSpecific"/> the rank is
    /// added to the seed, so ranks draw different numbers (e.g. for dropout) yet reproducibly.
    /// </summary>
    public void SetSeed(long seed, bool deviceSpecific = false)
    {
        var value = deviceSpecific ? seed + ProcessIndex : seed;
        torch.manual_seed(value);
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(value);
    }

    private IDisposable InOrder(bool first)
    {
        if (!first) WaitForEveryone();
        return new Scope(first ? WaitForEveryone : null);
    }

    private (int start, int length, int longest) Share(int count)
    {
        var n = NumProcesses;
        var baseLength = count / n;
        var extra = count % n;
        var rank = ProcessIndex;
        var length = baseLength + (rank < extra ? 1 : 0);
        var start = rank * baseLength + Math.Min(rank, extra);
        return (start, length, baseLength + (extra > 0 ? 1 : 0));
    }
}
