using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using TorchSharp;

namespace Accelerate.Distributed;

/// <summary>
/// The processes of one job and the collectives they run together. Every rank must call the same
/// collectives in the same order with tensors of the same shape and dtype.
/// Tensors are CPU tensors; a backend for GPU tensors implements the same members.
/// </summary>
public abstract class ProcessGroup : IDisposable
{
    /// <summary>This process's global rank.</summary>
    public abstract int Rank { get; }

    /// <summary>Number of processes in the group.</summary>
    public abstract int WorldSize { get; }

    /// <summary>Combines <paramref name="tensor"/> across ranks in place; every rank gets the result.</summary>
    public abstract void AllReduce(torch.Tensor tensor, ReduceOp op = ReduceOp.Sum);

    /// <summary>Copies rank <paramref name="source"/>'s tensor into <paramref name="tensor"/> on every rank.</summary>
    public abstract void Broadcast(torch.Tensor tensor, int source = 0);

    /// <summary>Every rank's tensor, in rank order, on every rank. Sizes along dim 0 may differ per rank.</summary>
    public abstract torch.Tensor[] AllGather(torch.Tensor tensor);

    /// <summary>Every rank's tensor, in rank order, on <paramref name="destination"/>; null elsewhere.</summary>
    public abstract torch.Tensor[]? Gather(torch.Tensor tensor, int destination = 0);

    /// <summary>
    /// Every rank's <paramref name="input"/>, in rank order, into the caller's <paramref name="outputs"/> (torch's
    /// <c>all_gather(tensor_list, tensor)</c>): <c>outputs[r]</c> receives rank r's tensor. Every rank passes an input of the
    /// same shape and dtype, and <see cref="WorldSize"/> contiguous outputs of that shape and dtype, which it may reuse
    /// from call to call (no allocation, unlike <see cref="AllGather(torch.Tensor)"/>).
    /// </summary>
    public virtual void AllGather(IReadOnlyList<torch.Tensor> outputs, torch.Tensor input)
    {
        GatherOutputs.CheckList("AllGather", outputs, nameof(outputs), input, WorldSize);
        CopyInto(outputs, AllGather(input));
    }

    /// <summary>
    /// Every rank's <paramref name="input"/>, in rank order, concatenated along dim 0 into <paramref name="output"/> (torch's
    /// <c>all_gather_into_tensor</c>): a contiguous tensor of the input's dtype shaped <c>[WorldSize * rows, ...]</c>, or
    /// <c>[WorldSize, ...input.shape]</c>. Every rank passes an input of the same shape and dtype. The input may be
    /// this rank's part of the output (a view of it), which then is not copied.
    /// </summary>
    public virtual void AllGatherInto(torch.Tensor output, torch.Tensor input)
    {
        GatherOutputs.CheckConcatenated("AllGatherInto", output, nameof(output), input, WorldSize);
        CopyInto(GatherOutputs.Parts(output, input, WorldSize), AllGather(input));
    }

    /// <summary>
    /// Every rank's <paramref name="input"/>, in rank order, into <paramref name="outputs"/> on <paramref name="destination"/>
    /// (torch's <c>gather(tensor, gather_list, dst)</c>): <see cref="WorldSize"/> contiguous tensors of the input's shape and
    /// dtype there; other ranks may pass null (their outputs are neither read nor written). Every rank passes an input of
    /// the same shape and dtype.
    /// </summary>
    public virtual void Gather(torch.Tensor input, IReadOnlyList<torch.Tensor>? outputs, int destination = 0)
    {
        if (Rank == destination) GatherOutputs.CheckList("Gather", outputs, nameof(outputs), input, WorldSize);
        var gathered = Gather(input, destination);
        if (gathered is not null) CopyInto(outputs!, gathered);
    }

    /// <summary>
    /// Every rank's <paramref name="input"/>, in rank order, concatenated along dim 0 into <paramref name="output"/> on
    /// <paramref name="destination"/> (shaped as for <see cref="AllGatherInto"/>); other ranks may pass null.
    /// </summary>
    public virtual void GatherInto(torch.Tensor? output, torch.Tensor input, int destination = 0)
    {
        if (Rank != destination)
        {
            Gather(input, null, destination);
            return;
        }
        GatherOutputs.CheckConcatenated("GatherInto", output, nameof(output), input, WorldSize);
        Gather(input, GatherOutputs.Parts(output!, input, WorldSize), destination);
    }

    /// <summary>Reduces <paramref name="input"/> across ranks and leaves rank r with the r-th chunk along dim 0.</summary>
    public abstract torch.Tensor ReduceScatter(torch.Tensor input, ReduceOp op = ReduceOp.Sum);

    /// <summary>Returns when every rank has called it.</summary>
    public abstract void Barrier();

    /// <summary>Rank <paramref name="source"/>'s object on every rank (serialized as JSON).</summary>
    public abstract T BroadcastObject<T>(T value, int source = 0);

    /// <summary>Every rank's object, in rank order, on every rank (serialized as JSON).</summary>
    public abstract T[] AllGatherObject<T>(T value);

    /// <summary>The backend moving the bytes: <c>tcp</c>, <c>shm</c> (shared memory on one machine), <c>shm+tcp</c> (shared memory within machines, TCP between them), <c>mpi</c> or <c>nccl</c>.</summary>
    public virtual string Backend => GetType().Name;

    /// <summary>Combines <paramref name="values"/> across ranks in place; every rank gets the result.</summary>
    public virtual void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged
    {
        using var tensor = SpanTensors.From<T>(values);
        AllReduce(tensor, op);
        SpanTensors.CopyTo(tensor, values);
    }

    /// <summary>Copies rank <paramref name="source"/>'s values into <paramref name="values"/> on every rank.</summary>
    public virtual void Broadcast<T>(Span<T> values, int source = 0) where T : unmanaged
    {
        using var tensor = SpanTensors.From<T>(values);
        Broadcast(tensor, source);
        SpanTensors.CopyTo(tensor, values);
    }

    /// <summary>Every rank's values, in rank order, on every rank; lengths may differ per rank.</summary>
    public virtual T[][] AllGather<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        using var tensor = SpanTensors.From(values);
        return AllGather(tensor).Select(t => MemoryMarshal.Cast<byte, T>(t.bytes).ToArray()).ToArray();
    }

    private static void CopyInto(IReadOnlyList<torch.Tensor> outputs, torch.Tensor[] gathered)
    {
        for (var r = 0; r < gathered.Length; r++)
        {
            using var part = gathered[r];
            outputs[r].copy_(part);
        }
    }

    /// <summary>Leaves the group; peers still in a collective with this rank fail with an error naming it.</summary>
    public abstract void Dispose();
}
