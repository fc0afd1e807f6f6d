using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using TorchSharp;

namespace Accelerate.Distributed.Nccl;

/// <summary>
/// Collectives on CUDA tensors through NCCL. Ranks first meet through the built-in TCP group,
/// which hands rank 0's NCCL id to everyone and keeps serving CPU tensors and objects.
/// </summary>
internal sealed unsafe class NcclProcessGroup : ProcessGroup
{
    private readonly ProcessGroup _host;
    private readonly nint _comm;
    private readonly TimeSpan _timeout;

    private NcclProcessGroup(ProcessGroup host, nint comm, TimeSpan timeout)
    {
        _host = host;
        _comm = comm;
        _timeout = timeout;
    }

    public override string Backend => "nccl";

    public override int Rank => _host.Rank;

    public override int WorldSize => _host.WorldSize;

    /// <summary>Checks for CUDA and NCCL, then creates the NCCL communicator over <paramref name="host"/>.</summary>
    public static NcclProcessGroup Create(Func<ProcessGroup> host, bool cudaAvailable, TimeSpan? collectiveTimeout = null)
    {
        if (!cudaAvailable)
            throw new AccelerateException(RuntimeErrorCode.NcclWithoutCuda, "ACCELERATE_DISTRIBUTED_BACKEND=nccl needs CUDA, and no CUDA device is available to this process. " +
                "Run on a machine with NVIDIA GPUs and the CUDA build of libtorch (libtorch-cuda-12.x), or use ACCELERATE_DISTRIBUTED_BACKEND=auto for CPU collectives.");
        LibNccl.EnsureLoaded();
        var group = host();
        try
        {
            var id = group.Rank == 0 ? LibNccl.GetUniqueId() : default;
            group.Broadcast(new Span<byte>(&id, sizeof(LibNccl.UniqueId)), 0);
            return new NcclProcessGroup(group, LibNccl.CommInitRank(group.WorldSize, id, group.Rank), collectiveTimeout ?? CollectiveSettings.DefaultCollectiveTimeout);
        }
        catch
        {
            group.Dispose();
            throw;
        }
    }

    private static bool OnGpu(torch.Tensor tensor) => tensor.device_type == DeviceType.CUDA;

    private static nint Pointer(torch.Tensor tensor) => TensorMemory.Address(tensor);

    private void Synchronize([System.Runtime.CompilerServices.CallerMemberName] string operation = "") =>
        WaitBounded(() => torch.cuda.synchronize(), _timeout, operation);

    /// <summary>
    /// Runs <paramref name="wait"/> (CUDA's synchronize: it returns only when the NCCL kernel does, which needs every
    /// peer) for at most <paramref name="timeout"/>; a peer that is gone or stuck becomes ACC2112 instead of a hang.
    /// </summary>
    internal static void WaitBounded(Action wait, TimeSpan timeout, string operation)
    {
        var waiting = Task.Factory.StartNew(wait, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!waiting.Wait(timeout))
            throw new AccelerateException(RuntimeErrorCode.CollectiveTimeout, $"NCCL {operation} did not complete within {timeout.TotalSeconds:0.#} s (ACCELERATE_COLLECTIVE_TIMEOUT): " +
                "a peer rank is stuck, gone (its machine is off or cut off) or called a different collective; see the other ranks' output. " +
                "Set ACCELERATE_DEBUG_MODE=true (--debug) to compare the collectives ranks call, or raise ACCELERATE_COLLECTIVE_TIMEOUT for long pauses.");
        waiting.GetAwaiter().GetResult();
    }

    public override void AllReduce(torch.Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        if (!OnGpu(tensor))
        {
            _host.AllReduce(tensor, op);
            return;
        }
        using var contiguous = tensor.contiguous();
        var type = ElementTypes.Of(tensor.dtype);
        LibNccl.AllReduce(Pointer(contiguous), Pointer(contiguous), contiguous.numel(), LibNccl.Datatype(type), LibNccl.Operation(op), _comm);
        Synchronize();
        if (!tensor.is_contiguous()) tensor.copy_(contiguous);
    }

    public override void Broadcast(torch.Tensor tensor, int source = 0)
    {
        if (!OnGpu(tensor))
        {
            _host.Broadcast(tensor, source);
            return;
        }
        using var contiguous = tensor.contiguous();
        LibNccl.Broadcast(Pointer(contiguous), Pointer(contiguous), contiguous.numel(), LibNccl.Datatype(ElementTypes.Of(tensor.dtype)), source, _comm);
        Synchronize();
        if (!tensor.is_contiguous()) tensor.copy_(contiguous);
    }

    public override torch.Tensor[] AllGather(torch.Tensor tensor)
    {
        if (!OnGpu(tensor)) return _host.AllGather(tensor);
        // NCCL gathers equal blocks: pad every rank's rows to the largest, then cut.
        var rows = _host.AllGatherObject(tensor.dim() == 0 ? 1L : tensor.shape[0]);
        var most = rows.Max();
        using var padded = tensor.dim() == 0 ? tensor.reshape(1) : torch.nn.functional.pad(tensor.contiguous().flatten(1), [0, 0, 0, most - tensor.shape[0]]).contiguous();
        using var gathered = torch.empty([WorldSize * padded.numel()], tensor.dtype, tensor.device);
        LibNccl.AllGather(Pointer(padded), Pointer(gathered), padded.numel(), LibNccl.Datatype(ElementTypes.Of(tensor.dtype)), _comm);
        Synchronize();
        var rest = tensor.dim() == 0 ? Array.Empty<long>() : tensor.shape.Skip(1).ToArray();
        var per = padded.numel();
        var rowElements = most == 0 ? 0 : per / most;
        return Enumerable.Range(0, WorldSize).Select(r =>
            gathered.narrow(0, r * per, rows[r] * rowElements).reshape(tensor.dim() == 0 ? [] : [rows[r], .. rest]).clone()).ToArray();
    }

    public override torch.Tensor[]? Gather(torch.Tensor tensor, int destination = 0)
    {
        if (!OnGpu(tensor)) return _host.Gather(tensor, destination);
        var all = AllGather(tensor);
        return Rank == destination ? all : null;
    }

    public override void AllGatherInto(torch.Tensor output, torch.Tensor input)
    {
        if (!OnGpu(input))
        {
            _host.AllGatherInto(output, input);
            return;
        }
        GatherOutputs.CheckConcatenated("AllGatherInto", output, nameof(output), input, WorldSize);
        using var contiguous = input.contiguous();
        LibNccl.AllGather(Pointer(contiguous), Pointer(output), contiguous.numel(), LibNccl.Datatype(ElementTypes.Of(input.dtype)), _comm);
        Synchronize();
    }

    public override void AllGather(IReadOnlyList<torch.Tensor> outputs, torch.Tensor input)
    {
        if (!OnGpu(input))
        {
            _host.AllGather(outputs, input);
            return;
        }
        GatherOutputs.CheckList("AllGather", outputs, nameof(outputs), input, WorldSize);
        // NCCL writes one buffer: gather into it, then copy each rank's part out.
        using var gathered = torch.empty([WorldSize, .. input.shape], input.dtype, input.device);
        AllGatherInto(gathered, input);
        for (var r = 0; r < WorldSize; r++)
        {
            using var part = gathered[r];
            outputs[r].copy_(part);
        }
    }

    public override void Gather(torch.Tensor input, IReadOnlyList<torch.Tensor>? outputs, int destination = 0)
    {
        if (!OnGpu(input))
        {
            _host.Gather(input, outputs, destination);
            return;
        }
        // NCCL has no gather: every rank gathers, the destination keeps it (the others, as in GatherInto, discard it).
        if (Rank == destination) AllGather(outputs!, input);
        else GatherInto(null, input, destination);
    }

    public override void GatherInto(torch.Tensor? output, torch.Tensor input, int destination = 0)
    {
        if (!OnGpu(input))
        {
            _host.GatherInto(output, input, destination);
            return;
        }
        if (Rank == destination)
        {
            AllGatherInto(output!, input);
            return;
        }
        using var discarded = torch.empty([WorldSize, .. input.shape], input.dtype, input.device);
        AllGatherInto(discarded, input);
    }

    public override torch.Tensor ReduceScatter(torch.Tensor input, ReduceOp op = ReduceOp.Sum)
    {
        if (!OnGpu(input)) return _host.ReduceScatter(input, op);
        using var reduced = input.contiguous().clone();
        AllReduce(reduced, op);
        var rows = input.shape[0];
        var start = Enumerable.Range(0, Rank).Sum(r => rows / WorldSize + (r < rows % WorldSize ? 1 : 0));
        return reduced.narrow(0, start, rows / WorldSize + (Rank < rows % WorldSize ? 1 : 0)).clone();
    }

    public override void Barrier() => _host.Barrier();

    public override T BroadcastObject<T>(T value, int source = 0) => _host.BroadcastObject(value, source);

    public override T[] AllGatherObject<T>(T value) => _host.AllGatherObject(value);

    public override void Dispose()
    {
        LibNccl.CommDestroy(_comm);
        _host.Dispose();
    }
}
