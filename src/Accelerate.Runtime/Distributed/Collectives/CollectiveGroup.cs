using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// The tensor, span and object collectives of <see cref="ProcessGroup"/> built on a backend's
/// byte-level operations: dtype and contiguity handling, uneven gathers, averages, objects, the
/// check that every rank runs the same collective (<see cref="Signature"/>, always on; the
/// debug-mode comparison of call sites on top), and the "failed once, failed for good" state.
/// Tensors are addressed by pointer and 64-bit length, so they may hold 2 GiB or more.
/// </summary>
internal abstract unsafe class CollectiveGroup : ProcessGroup
{
    private readonly bool _debugMode;
    private Exception? _failure;
    private int _disposed;
    private long _sequence;
    private long _rows;
    private CollectiveProgress? _progress;

    protected CollectiveGroup(int rank, int worldSize, bool debugMode)
    {
        Rank = rank;
        WorldSize = worldSize;
        _debugMode = debugMode;
    }

    public sealed override int Rank { get; }

    public sealed override int WorldSize { get; }

    private Func<CollectiveCall>? _current;

    /// <summary>The operation running now, for error messages (described only when needed: formatting costs time on every call).</summary>
    protected string CurrentOperation => _current?.Invoke().Operation ?? "";

    /// <summary>
    /// What every rank must agree on in the collective running now. Backends send it with their
    /// data (signal line, message headers) and fail with <see cref="CollectiveSignature.Mismatch"/>
    /// when a peer's differs.
    /// </summary>
    protected CollectiveSignature Signature { get; private set; }

    /// <summary>
    /// Debug mode: publish every collective this rank enters to <paramref name="progress"/>, so that a timeout
    /// names the rank that is behind and where it is. The group disposes it.
    /// </summary>
    internal void TrackProgress(CollectiveProgress progress) => _progress = progress;

    /// <summary>How a timeout report names rank <paramref name="rank"/>, e.g. "rank 1 (host, pid 42)".</summary>
    protected virtual string DescribeRank(int rank) => $"rank {rank}";

    // ---- what a backend implements (pointers to host memory unless the backend says otherwise) ----

    /// <summary>Combines <paramref name="count"/> elements in place with Sum, Product, Min or Max (never Average).</summary>
    protected abstract void AllReduceCore(nint data, long count, ElementType type, ReduceOp op);

    /// <summary>Copies <paramref name="bytes"/> bytes from <paramref name="source"/> to every rank.</summary>
    protected abstract void BroadcastCore(nint data, long bytes, int source);

    /// <summary>Every rank's block (sizes in <paramref name="bytes"/>, known everywhere) into <paramref name="receive"/>, this rank's included.</summary>
    protected abstract void AllGatherCore(nint send, long[] bytes, nint[] receive);

    /// <summary>Every rank's block into <paramref name="receive"/> on <paramref name="destination"/> (sizes known there; elsewhere only this rank's).</summary>
    protected abstract void GatherCore(nint send, long[] bytes, nint[]? receive, int destination);

    /// <summary>Reduces <paramref name="scratch"/> (chunk r has <c>counts[r]</c> elements; may be overwritten) and writes chunk <see cref="Rank"/> to <paramref name="output"/>.</summary>
    protected abstract void ReduceScatterCore(nint scratch, long[] counts, ElementType type, ReduceOp op, nint output);

    /// <summary>Returns when every rank has called it.</summary>
    protected abstract void BarrierCore();

    /// <summary>Releases the backend's connections; called once.</summary>
    protected abstract void Close();

    /// <summary>Tells peers, as far as possible, that this rank is failing because of <paramref name="failure"/>.</summary>
    protected virtual void Abort(Exception failure)
    {
    }

    /// <summary>
    /// True when the backend's algorithm for <paramref name="kind"/> compares <see cref="Signature"/>
    /// between ranks by itself, so that every rank fails when one differs. Otherwise every call
    /// starts with an all-reduce of the signature (one small extra round).
    /// </summary>
    protected virtual bool ComparesSignatures(CollectiveKind kind) => false;

    /// <summary>True when <see cref="ReduceScatterCore"/> only reads its input, so that it need not be a copy of the caller's tensor.</summary>
    protected virtual bool ReduceScatterKeepsInput => false;

    /// <summary>Where tensors must live for this backend.</summary>
    protected virtual bool AcceptsDevice(DeviceType device) => device == DeviceType.CPU;

    // ---- tensors ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void AllReduce(torch.Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!TensorMemory.IsContiguous(tensor) || !AcceptsDevice(TensorMemory.Device(tensor)))
        {
            AllReduceCopy(tensor, op);
            return;
        }
        var type = ElementTypes.Of(TensorMemory.Dtype(tensor));
        if (Reduction.AverageType(type, op) is not null)
        {
            AllReduceCopy(tensor, op);
            return;
        }
        Reduction.EnsureSupported(type, op);
        RunAllReduce(TensorMemory.Address(tensor), TensorMemory.Count(tensor), type, op, _debugMode ? DescribeAllReduce(op, type, tensor.shape) : null);
    }

    /// <summary>
    /// A tensor that is not contiguous goes through a contiguous copy, an average whose sum may overflow the dtype
    /// through a wider one; one on a device the backend does not take is refused.
    /// </summary>
    private void AllReduceCopy(torch.Tensor tensor, ReduceOp op)
    {
        var type = Prepare(tensor, nameof(tensor));
        Reduction.EnsureSupported(type, op);
        EnsureWritable(tensor, nameof(tensor), "AllReduce");
        if (Reduction.AverageType(type, op) is { } wide)
        {
            Run(CollectiveSignature.Of(CollectiveKind.AllReduce, tensor.numel(), type, op), () => new CollectiveCall($"AllReduce({op})", type.Name(), ShapeForDebug(tensor), ""), () =>
            {
                // The sum may not fit the dtype even though the average does: reduce a wider copy.
                using var copy = tensor.to(wide.ToScalarType());
                AllReduceBytes(TensorMemory.Address(copy), copy.numel(), wide, op);
                using (torch.no_grad()) tensor.copy_(copy);
            });
            return;
        }
        WithContiguous(tensor, writeBack: true, (p, bytes) => RunAllReduce(p, bytes / type.Size(), type, op, _debugMode ? DescribeAllReduce(op, type, tensor.shape) : null));
    }

    public override void Broadcast(torch.Tensor tensor, int source = 0)
    {
        var type = Prepare(tensor, nameof(tensor));
        CheckRank(source, nameof(source));
        // Every rank checks, the source too, so that all of them refuse it together.
        EnsureWritable(tensor, nameof(tensor), "Broadcast");
        Run(CollectiveSignature.Of(CollectiveKind.Broadcast, tensor.numel(), type, root: source), () => new CollectiveCall($"Broadcast(source={source})", type.Name(), ShapeForDebug(tensor), ""), () =>
            WithContiguous(tensor, writeBack: Rank != source, (p, bytes) => BroadcastCore(p, bytes, source)));
    }

    public override torch.Tensor[] AllGather(torch.Tensor tensor)
    {
        var type = Prepare(tensor, nameof(tensor));
        return Run(CollectiveSignature.Of(CollectiveKind.AllGather, RowElements(tensor), type), () => new CollectiveCall("AllGather", type.Name(), ShapeForDebug(tensor), "") { UnevenFirstDimension = tensor.dim() > 0 }, () =>
        {
            var rows = ExchangeFirstDimensions(tensor, gatherOnly: false, destination: 0)!;
            var outputs = rows.Select(r => torch.empty(ShapeWithRows(tensor, r), tensor.dtype)).ToArray();
            var bytes = outputs.Select(o => o.numel() * type.Size()).ToArray();
            WithContiguous(tensor, writeBack: false, (p, _) => WithPointers(outputs, pointers => AllGatherCore(p, bytes, pointers)));
            return outputs;
        });
    }

    public override torch.Tensor[]? Gather(torch.Tensor tensor, int destination = 0)
    {
        var type = Prepare(tensor, nameof(tensor));
        CheckRank(destination, nameof(destination));
        return Run(CollectiveSignature.Of(CollectiveKind.Gather, RowElements(tensor), type, root: destination), () => new CollectiveCall($"Gather(destination={destination})", type.Name(), ShapeForDebug(tensor), "") { UnevenFirstDimension = tensor.dim() > 0 }, () =>
        {
            var rows = ExchangeFirstDimensions(tensor, gatherOnly: true, destination);
            var mine = tensor.numel() * type.Size();
            if (rows is null)
            {
                var bytes = new long[WorldSize];
                bytes[Rank] = mine;
                WithContiguous(tensor, writeBack: false, (p, _) => GatherCore(p, bytes, null, destination));
                return null;
            }
            var outputs = rows.Select(r => torch.empty(ShapeWithRows(tensor, r), tensor.dtype)).ToArray();
            var sizes = outputs.Select(o => o.numel() * type.Size()).ToArray();
            WithContiguous(tensor, writeBack: false, (p, _) => WithPointers(outputs, pointers => GatherCore(p, sizes, pointers, destination)));
            return outputs;
        });
    }

    // The gathers into the caller's outputs read each fact of a tensor once: at 1 MB a collective takes about 100 µs, and
    // every native call, in caches the copy just flushed, costs a fraction of a microsecond.

    public override void AllGather(IReadOnlyList<torch.Tensor> outputs, torch.Tensor input)
    {
        var type = Prepare(input, nameof(input), out var dtype);
        var shape = TensorMemory.Shape(input);
        GatherOutputs.CheckList("AllGather", outputs, nameof(outputs), dtype, shape, WorldSize);
        AllGatherInto(input, type, shape, Addresses(outputs, nameof(outputs)));
    }

    public override void AllGatherInto(torch.Tensor output, torch.Tensor input)
    {
        var type = Prepare(input, nameof(input), out var dtype);
        var shape = TensorMemory.Shape(input);
        GatherOutputs.CheckConcatenated("AllGatherInto", output, nameof(output), dtype, shape, WorldSize);
        CheckDevice(output, nameof(output));
        AllGatherInto(input, type, shape, Addresses(TensorMemory.Address(output), WorldSize, Elements(shape) * type.Size()));
    }

    public override void Gather(torch.Tensor input, IReadOnlyList<torch.Tensor>? outputs, int destination = 0)
    {
        var type = Prepare(input, nameof(input), out var dtype);
        CheckRank(destination, nameof(destination));
        var shape = TensorMemory.Shape(input);
        nint[]? receive = null;
        if (Rank == destination)
        {
            GatherOutputs.CheckList("Gather", outputs, nameof(outputs), dtype, shape, WorldSize);
            receive = Addresses(outputs!, nameof(outputs));
        }
        GatherInto(input, type, shape, receive, destination);
    }

    public override void GatherInto(torch.Tensor? output, torch.Tensor input, int destination = 0)
    {
        var type = Prepare(input, nameof(input), out var dtype);
        CheckRank(destination, nameof(destination));
        var shape = TensorMemory.Shape(input);
        nint[]? receive = null;
        if (Rank == destination)
        {
            GatherOutputs.CheckConcatenated("GatherInto", output, nameof(output), dtype, shape, WorldSize);
            CheckDevice(output!, nameof(output));
            receive = Addresses(TensorMemory.Address(output!), WorldSize, Elements(shape) * type.Size());
        }
        GatherInto(input, type, shape, receive, destination);
    }

    /// <summary>
    /// The gathers into the caller's outputs (checked, at <paramref name="receive"/>; a list or one tensor, which may meet
    /// in one collective): every rank's input has the same size, so no rank needs to learn the others' first.
    /// </summary>
    private void AllGatherInto(torch.Tensor input, ElementType type, long[] shape, nint[] receive)
    {
        var count = Elements(shape);
        var bytes = Enumerable.Repeat(count * type.Size(), WorldSize).ToArray();
        Run(CollectiveSignature.Of(CollectiveKind.AllGatherInto, count, type), () => new CollectiveCall("AllGatherInto", type.Name(), _debugMode ? shape : [], ""), () =>
            WithContiguous(input, writeBack: false, p => AllGatherCore(p, bytes, receive)));
    }

    private void GatherInto(torch.Tensor input, ElementType type, long[] shape, nint[]? receive, int destination)
    {
        var count = Elements(shape);
        var bytes = Enumerable.Repeat(count * type.Size(), WorldSize).ToArray();
        Run(CollectiveSignature.Of(CollectiveKind.GatherInto, count, type, root: destination), () => new CollectiveCall($"GatherInto(destination={destination})", type.Name(), _debugMode ? shape : [], ""), () =>
            WithContiguous(input, writeBack: false, p => GatherCore(p, bytes, receive, destination)));
    }

    private nint[] Addresses(IReadOnlyList<torch.Tensor> outputs, string name)
    {
        var addresses = new nint[outputs.Count];
        for (var r = 0; r < addresses.Length; r++)
        {
            CheckDevice(outputs[r], $"{name}[{r}]");
            addresses[r] = TensorMemory.Address(outputs[r]);
        }
        return addresses;
    }

    private static long Elements(long[] shape)
    {
        long count = 1;
        foreach (var size in shape) count *= size;
        return count;
    }

    public override torch.Tensor ReduceScatter(torch.Tensor input, ReduceOp op = ReduceOp.Sum)
    {
        var type = Prepare(input, nameof(input));
        Reduction.EnsureSupported(type, op);
        if (input.dim() == 0)
            throw new AccelerateException(RuntimeErrorCode.UnsupportedShape, "ReduceScatter needs a tensor with at least one dimension to split along dim 0; got a scalar. Reshape it (tensor.reshape(1)) or use AllReduce.");
        return Run(CollectiveSignature.Of(CollectiveKind.ReduceScatter, input.numel(), type, op), () => new CollectiveCall($"ReduceScatter({op})", type.Name(), ShapeForDebug(input), ""), rows: input.shape[0], action: () =>
        {
            var rowElements = input.numel() / Math.Max(1, input.shape[0]);
            var rows = SplitRows(input.shape[0]);
            var counts = rows.Select(r => r * rowElements).ToArray();
            // An average whose sum may not fit the dtype is reduced in a wider one (a copy, which the backend may overwrite).
            var work = Reduction.AverageType(type, op) ?? type;
            // A backend that reduces in place gets a copy; one that only reads the input gets the tensor itself.
            using var scratch = work != type ? input.to(work.ToScalarType()).contiguous() : ReduceScatterKeepsInput ? input.contiguous() : input.contiguous().clone();
            var output = torch.empty(ShapeWithRows(input, rows[Rank]), work.ToScalarType());
            var o = (byte*)TensorMemory.Address(output);
            ReduceScatterCore(TensorMemory.Address(scratch), counts, work, op == ReduceOp.Average ? ReduceOp.Sum : op, (nint)o);
            if (op == ReduceOp.Average) Reduction.Divide(work, o, counts[Rank], WorldSize);
            if (work == type) return output;
            using (output) return output.to(input.dtype);
        });
    }

    public override void Barrier() => Run(CollectiveSignature.Of(CollectiveKind.Barrier, 0), () => new CollectiveCall("Barrier", "", [], ""), () => BarrierCore());

    // ---- objects ----

    public override T BroadcastObject<T>(T value, int source = 0)
    {
        CheckRank(source, nameof(source));
        return Run(CollectiveSignature.Of(CollectiveKind.BroadcastObject, 0, root: source), () => new CollectiveCall($"BroadcastObject<{typeof(T).Name}>(source={source})", "", [], ""), () =>
        {
            var payload = Rank == source ? JsonSerializer.SerializeToUtf8Bytes(value) : [];
            var length = (long)payload.Length;
            BroadcastCore((nint)(&length), sizeof(long), source);
            if (Rank != source) payload = new byte[length];
            fixed (byte* p = payload) BroadcastCore((nint)p, length, source);
            return Rank == source ? value : JsonSerializer.Deserialize<T>(payload)!;
        });
    }

    public override T[] AllGatherObject<T>(T value) =>
        Run(CollectiveSignature.Of(CollectiveKind.AllGatherObject, 0), () => new CollectiveCall($"AllGatherObject<{typeof(T).Name}>", "", [], ""), () =>
            AllGatherBytes(JsonSerializer.SerializeToUtf8Bytes(value)).Select(b => JsonSerializer.Deserialize<T>(b)!).ToArray());

    // ---- spans ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum)
    {
        var type = ElementTypes.Of<T>();
        Reduction.EnsureSupported(type, op);
        fixed (T* p = values)
        {
            if (Reduction.AverageType(type, op) is not null) AllReduceWidened<T>((nint)p, values.Length, type, op);
            else RunAllReduce((nint)p, values.Length, type, op, _debugMode ? DescribeAllReduce(op, type, [values.Length]) : null);
        }
    }

    /// <summary>An average whose sum may overflow the dtype: the values go through a tensor and the tensor path's wider reduction (a method of its own, so that the common path allocates nothing).</summary>
    private void AllReduceWidened<T>(nint pointer, int count, ElementType type, ReduceOp op) where T : unmanaged
    {
        var bytes = (long)count * sizeof(T);
        using var tensor = torch.empty(count, type.ToScalarType());
        Buffer.MemoryCopy((void*)pointer, (void*)TensorMemory.Address(tensor), bytes, bytes);
        AllReduceCopy(tensor, op);
        Buffer.MemoryCopy((void*)TensorMemory.Address(tensor), (void*)pointer, bytes, bytes);
    }

    public override void Broadcast<T>(Span<T> values, int source = 0)
    {
        var type = ElementTypes.Of<T>();
        CheckRank(source, nameof(source));
        fixed (T* p = values)
        {
            var pointer = (nint)p;
            var length = values.Length;
            var bytes = (long)length * sizeof(T);
            Run(CollectiveSignature.Of(CollectiveKind.Broadcast, length, type, root: source), () => new CollectiveCall($"Broadcast(source={source})", type.Name(), [length], ""), () => BroadcastCore(pointer, bytes, source));
        }
    }

    public override T[][] AllGather<T>(ReadOnlySpan<T> values)
    {
        var type = ElementTypes.Of<T>();
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        var length = values.Length;
        return Run(CollectiveSignature.Of(CollectiveKind.AllGather, 1, type), () => new CollectiveCall("AllGather", type.Name(), [length], "") { UnevenFirstDimension = true }, () =>
            AllGatherBytes(bytes).Select(b => MemoryMarshal.Cast<byte, T>(b).ToArray()).ToArray());
    }

    // ---- shared steps ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AllReduceBytes(nint data, long count, ElementType type, ReduceOp op)
    {
        if (count == 0)
        {
            // Nothing to move, but a peer may have called it with data (or something else).
            if (ComparesSignatures(CollectiveKind.AllReduce)) Agree();
            return;
        }
        AllReduceCore(data, count, type, op == ReduceOp.Average ? ReduceOp.Sum : op);
        if (op == ReduceOp.Average) Reduction.Divide(type, (byte*)data, count, WorldSize);
    }

    /// <summary>Every rank's bytes, in rank order, on every rank.</summary>
    private byte[][] AllGatherBytes(byte[] mine)
    {
        var lengths = new long[WorldSize];
        var lengthBytes = Enumerable.Repeat((long)sizeof(long), WorldSize).ToArray();
        var length = (long)mine.Length;
        fixed (long* l = lengths)
            AllGatherCore((nint)(&length), lengthBytes, Addresses((nint)l, WorldSize, sizeof(long)));
        var blocks = lengths.Select(n => new byte[n]).ToArray();
        var handles = blocks.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
        try
        {
            fixed (byte* m = mine)
                AllGatherCore((nint)m, lengths, handles.Select(h => h.AddrOfPinnedObject()).ToArray());
        }
        finally
        {
            foreach (var handle in handles) handle.Free();
        }
        return blocks;
    }

    private static nint[] Addresses(nint start, int count, long stride)
    {
        var addresses = new nint[count];
        for (var i = 0; i < count; i++) addresses[i] = start + (nint)(i * stride);
        return addresses;
    }

    /// <summary>The first dimension of every rank's tensor (all ranks, or only <paramref name="destination"/> when gathering).</summary>
    private long[]? ExchangeFirstDimensions(torch.Tensor tensor, bool gatherOnly, int destination)
    {
        var mine = tensor.dim() == 0 ? 1L : tensor.size(0);
        var rows = new long[WorldSize];
        var bytes = Enumerable.Repeat((long)sizeof(long), WorldSize).ToArray();
        fixed (long* r = rows)
        {
            var pointers = Addresses((nint)r, WorldSize, sizeof(long));
            if (!gatherOnly) AllGatherCore((nint)(&mine), bytes, pointers);
            else GatherCore((nint)(&mine), bytes, Rank == destination ? pointers : null, destination);
        }
        return gatherOnly && Rank != destination ? null : rows;
    }

    /// <summary>Rows per rank when splitting <paramref name="rows"/> along dim 0 (like torch.tensor_split: the first ones get one more).</summary>
    internal long[] SplitRows(long rows) =>
        Enumerable.Range(0, WorldSize).Select(r => rows / WorldSize + (r < rows % WorldSize ? 1 : 0)).ToArray();

    /// <summary>Elements per row along dim 0 (the part of a gathered tensor's size that every rank shares).</summary>
    private static long RowElements(torch.Tensor tensor) => tensor.dim() == 0 ? 1 : TensorMemory.Shape(tensor).Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape, read only when debug mode compares it (reading it costs a native call).</summary>
    private long[] ShapeForDebug(torch.Tensor tensor) => _debugMode ? tensor.shape : [];

    private static long[] ShapeWithRows(torch.Tensor tensor, long rows) =>
        tensor.dim() == 0 ? [] : [rows, .. TensorMemory.Shape(tensor).Skip(1)];

    private ElementType Prepare(torch.Tensor tensor, string name) => Prepare(tensor, name, out _);

    private ElementType Prepare(torch.Tensor tensor, string name, out torch.ScalarType dtype)
    {
        CheckDevice(tensor, name);
        dtype = tensor.dtype;
        return ElementTypes.Of(dtype);
    }

    private void CheckDevice(torch.Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!AcceptsDevice(tensor.device_type))
            throw new AccelerateException(RuntimeErrorCode.UnsupportedDevice, $"The {GetType().Name.Replace("ProcessGroup", "")} backend runs collectives on CPU tensors; '{name}' is on {tensor.device}. " +
                "Move it with tensor.cpu() first, or use the NCCL backend for CUDA tensors.");
    }

    private void CheckRank(int rank, string name)
    {
        if (rank < 0 || rank >= WorldSize)
            throw new ArgumentOutOfRangeException(name, rank, $"{name} must be a rank between 0 and {WorldSize - 1}.");
    }

    private static void WithContiguous(torch.Tensor tensor, bool writeBack, Action<nint, long> action) =>
        WithContiguous(tensor, writeBack, address => action(address, TensorMemory.ByteLength(tensor)));

    private static void WithContiguous(torch.Tensor tensor, bool writeBack, Action<nint> action)
    {
        // Tensor memory is native and does not move.
        if (tensor.is_contiguous())
        {
            action(TensorMemory.Address(tensor));
            return;
        }
        using var copy = tensor.contiguous();
        action(TensorMemory.Address(copy));
        // Like the contiguous case, which writes through the pointer: a view of a parameter that requires grad takes the result too.
        if (writeBack)
            using (torch.no_grad())
                tensor.copy_(copy);
    }

    /// <summary>
    /// The ACC2286 error for a tensor a collective cannot write its result into: an expanded view (stride 0 along a
    /// dimension of more than one element) whose elements share memory. Checked before any data moves.
    /// </summary>
    private static void EnsureWritable(torch.Tensor tensor, string name, string collective)
    {
        // The common case costs one native call: a contiguous tensor has no dimension of stride 0 and size > 1.
        if (tensor.is_contiguous()) return;
        var shape = tensor.shape;
        var strides = tensor.stride();
        for (var d = 0; d < shape.Length; d++)
            if (strides[d] == 0 && shape[d] > 1)
                throw new AccelerateException(RuntimeErrorCode.CollectiveOutputOverlaps, $"{collective} writes its result into '{name}', but '{name}' (shape [{string.Join(", ", shape)}]) is an expanded view: its {shape[d]} elements along dim {d} are one element in memory, and cannot take {shape[d]} results. " +
                    $"Pass a tensor of its own, e.g. {name}.clone() (or .contiguous()), and use that.");
    }

    private static void WithPointers(torch.Tensor[] tensors, Action<nint[]> action)
    {
        // Fresh torch.empty tensors are contiguous.
        var pointers = new nint[tensors.Length];
        for (var i = 0; i < tensors.Length; i++) pointers[i] = TensorMemory.Address(tensors[i]);
        action(pointers);
    }

    private void Run(CollectiveSignature signature, Func<CollectiveCall> describe, Action action) => Run(signature, describe, () =>
    {
        action();
        return 0;
    });

    /// <summary>Runs <paramref name="action"/> as the collective <paramref name="signature"/> (described by <paramref name="describe"/>) once the ranks agree on it.</summary>
    /// <param name="signature">What every rank must agree on.</param>
    /// <param name="describe">The call, for error messages and debug mode.</param>
    /// <param name="action">The collective itself.</param>
    /// <param name="rows">ReduceScatter: the input's rows along dim 0, which ranks compare with the signature (the same elements in another shape split into other chunks).</param>
    private T Run<T>(CollectiveSignature signature, Func<CollectiveCall> describe, Func<T> action, long rows = 0)
    {
        var sequence = Enter(describe);
        try
        {
            Begin(signature, describe, sequence, rows);
            return action();
        }
        catch (AccelerateException e) when (BreaksGroup(e))
        {
            var failure = Fail(e, sequence);
            if (failure == e) throw;
            throw failure;
        }
    }

    /// <summary>
    /// <see cref="Run{T}"/> for an all-reduce of contiguous memory: outside debug mode (<paramref name="describe"/> null)
    /// without a delegate or closure, nothing allocated per call, and optimized from the first call. It is the path of
    /// the small all-reduces a training loop runs every step, where a few hundred nanoseconds are most of the cost.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunAllReduce(nint data, long count, ElementType type, ReduceOp op, Func<CollectiveCall>? describe)
    {
        describe ??= AllReduceCalls[(int)op * ElementTypeCount + (int)type];
        var sequence = Enter(describe);
        try
        {
            Begin(CollectiveSignature.Of(CollectiveKind.AllReduce, count, type, op), describe, sequence);
            AllReduceBytes(data, count, type, op);
        }
        catch (AccelerateException e) when (BreaksGroup(e))
        {
            var failure = Fail(e, sequence);
            if (failure == e) throw;
            throw failure;
        }
    }

    /// <summary>What an all-reduce compares in debug mode (the shape too).</summary>
    private static Func<CollectiveCall> DescribeAllReduce(ReduceOp op, ElementType type, long[] shape) =>
        () => new CollectiveCall($"AllReduce({op})", type.Name(), shape, "");

    private static readonly int ElementTypeCount = Enum.GetValues<ElementType>().Length;

    /// <summary>What <see cref="RunAllReduce"/> runs, by reduction and element type (outside debug mode the shape is not compared).</summary>
    private static readonly Func<CollectiveCall>[] AllReduceCalls =
        (from op in Enum.GetValues<ReduceOp>().OrderBy(o => (int)o)
         from type in Enum.GetValues<ElementType>().OrderBy(t => (int)t)
         select DescribeAllReduce(op, type, [])).ToArray();

    /// <summary>The start of every collective: refuses a disposed or failed group, and numbers the call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private long Enter(Func<CollectiveCall> describe)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_failure is { } failed)
            throw new AccelerateException(RuntimeErrorCode.GroupFailed, $"Rank {Rank} cannot run {describe().Operation}: the process group failed in an earlier collective ({failed.Message}). Stop this rank; the launcher restarts the job if --max_restarts allows.", failed);
        _current = describe;
        return ++_sequence;
    }

    /// <summary>Debug mode's comparison of call sites, then the signature every rank must agree on (compared here unless the backend does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Begin(CollectiveSignature signature, Func<CollectiveCall> describe, long sequence, long rows = 0)
    {
        if (_debugMode)
        {
            // Ranks compare call sites first (the richer message), under a signature they share.
            Signature = CollectiveSignature.Internal;
            var call = describe() with { CallSite = CollectiveCall.FindCallSite() };
            _progress?.Entered(sequence, call.Operation, call.CallSite);
            VerifyAcrossRanks(call);
        }
        Signature = signature;
        _rows = rows;
        if (WorldSize > 1 && !ComparesSignatures(signature.Kind)) Agree();
    }

    private static bool BreaksGroup(AccelerateException e) =>
        e.Code is RuntimeErrorCode.CollectiveMismatch or RuntimeErrorCode.PeerGone or RuntimeErrorCode.CollectiveTimeout;

    /// <summary>Marks the group failed for good and tells the peers; returns the error to throw (a timeout names the rank that is behind, in debug mode).</summary>
    private AccelerateException Fail(AccelerateException e, long sequence)
    {
        var failure = e.Code == RuntimeErrorCode.CollectiveTimeout && _progress is { } progress
            ? new AccelerateException(e.Code, $"{e.Message[(e.Code.Length + 2)..].Replace(CollectiveProgress.TimeoutAdvice, CollectiveProgress.TimeoutAdviceInDebugMode)} {progress.Describe(sequence, DescribeRank)}", e)
            : e;
        _failure = failure;
        Abort(failure);
        return failure;
    }

    /// <summary>
    /// All-reduces (min, max) of every rank's <see cref="Signature"/>: every rank learns whether
    /// all of them called the same collective, even those whose direct peers agree with them.
    /// </summary>
    private void Agree()
    {
        var mine = Signature.Value;
        var rows = _rows;
        var range = stackalloc long[4] { mine, ~mine, rows, ~rows };
        AllReduceCore((nint)range, 4, ElementType.Int64, ReduceOp.Min);
        if (range[0] != mine || ~range[1] != mine)
            throw Signature.Mismatch(new CollectiveSignature(range[0] != mine ? range[0] : ~range[1]), Rank, "another rank");
        if (range[2] != rows || ~range[3] != rows)
            throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, $"Ranks called {Signature.Describe()} with inputs of different shapes: rank {Rank}'s has {rows} rows along dim 0, another rank's {(range[2] != rows ? range[2] : ~range[3])}, so they would split it into different chunks. " +
                "Every rank must pass a tensor of the same shape (set ACCELERATE_DEBUG_MODE=true, or pass --debug, to find the call sites).");
    }

    private void VerifyAcrossRanks(CollectiveCall call)
    {
        var mine = JsonSerializer.SerializeToUtf8Bytes(new object[] { call.Operation, call.DataType, call.Shape, call.CallSite, call.UnevenFirstDimension });
        var calls = AllGatherBytes(mine).Select(bytes =>
        {
            var fields = JsonSerializer.Deserialize<JsonElement[]>(bytes)!;
            return new CollectiveCall(fields[0].GetString()!, fields[1].GetString()!, fields[2].Deserialize<long[]>()!, fields[3].GetString()!)
            {
                UnevenFirstDimension = fields[4].GetBoolean(),
            };
        }).ToArray();
        if (calls.All(c => c.Matches(calls[0]))) return;

        var message = new StringBuilder("Ranks called different collectives (found by ACCELERATE_DEBUG_MODE): ");
        var groups = Enumerable.Range(0, WorldSize).GroupBy(r => calls.Select((c, i) => (c, i)).First(x => x.c.Matches(calls[r])).i);
        message.Append(string.Join("; ", groups.Select(g => $"rank{(g.Count() > 1 ? "s" : "")} {string.Join(", ", g)} called {calls[g.Key].Describe()}")));
        message.Append(". Every rank must run the same collectives in the same order with the same dtype and shape: a collective inside `if (accelerator.IsMainProcess)` or a branch taken on some ranks only deadlocks without debug mode.");
        throw new AccelerateException(RuntimeErrorCode.CollectiveMismatch, message.ToString());
    }

    public sealed override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Close();
        _progress?.Dispose();
        GC.SuppressFinalize(this);
    }
}
