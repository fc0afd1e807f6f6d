using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Accelerate.Distributed.Collectives;

/// <summary>Element-wise reduction kernels (SIMD through TensorPrimitives).</summary>
internal static unsafe class Reduction
{
    private const int Block = 1 << 28; // spans are int-indexed: reduce long buffers in blocks

    /// <summary>accumulator[i] = accumulator[i] op incoming[i] for <paramref name="count"/> elements.</summary>
    public static void Combine(ElementType type, ReduceOp op, byte* accumulator, byte* incoming, long count) =>
        Combine(type, op, accumulator, incoming, accumulator, count);

    /// <summary>destination[i] = left[i] op right[i] for <paramref name="count"/> elements (destination may alias either).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Combine(ElementType type, ReduceOp op, byte* left, byte* right, byte* destination, long count)
    {
        var size = type.Size();
        for (long done = 0; done < count; done += Block)
        {
            var n = (int)Math.Min(Block, count - done);
            var offset = done * size;
            switch (type)
            {
                case ElementType.Float32: Apply<float>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Float64: Apply<double>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Float16: Apply<Half>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Int32: Apply<int>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Int64: Apply<long>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Int16: Apply<short>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.Int8: Apply<sbyte>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.UInt8: Apply<byte>(op, left + offset, right + offset, destination + offset, n); break;
                case ElementType.BFloat16: ApplyBFloat16(op, (ushort*)(left + offset), (ushort*)(right + offset), (ushort*)(destination + offset), n); break;
                default: throw Unsupported(type, op);
            }
        }
    }

    /// <summary>Divides every element by <paramref name="divisor"/> (the last step of <see cref="ReduceOp.Average"/>).</summary>
    public static void Divide(ElementType type, byte* data, long count, int divisor)
    {
        var size = type.Size();
        for (long done = 0; done < count; done += Block)
        {
            var n = (int)Math.Min(Block, count - done);
            var p = data + done * size;
            switch (type)
            {
                case ElementType.Float32: Scale((float*)p, 1f / divisor, n); break;
                case ElementType.Float64: TensorPrimitives.Divide(new ReadOnlySpan<double>(p, n), divisor, new Span<double>(p, n)); break;
                case ElementType.Float16: TensorPrimitives.Divide(new ReadOnlySpan<Half>(p, n), (Half)divisor, new Span<Half>(p, n)); break;
                case ElementType.Int32: TensorPrimitives.Divide(new ReadOnlySpan<int>(p, n), divisor, new Span<int>(p, n)); break;
                case ElementType.Int64: TensorPrimitives.Divide(new ReadOnlySpan<long>(p, n), divisor, new Span<long>(p, n)); break;
                case ElementType.Int16: TensorPrimitives.Divide(new ReadOnlySpan<short>(p, n), (short)divisor, new Span<short>(p, n)); break;
                case ElementType.Int8: TensorPrimitives.Divide(new ReadOnlySpan<sbyte>(p, n), (sbyte)divisor, new Span<sbyte>(p, n)); break;
                case ElementType.UInt8: TensorPrimitives.Divide(new ReadOnlySpan<byte>(p, n), (byte)divisor, new Span<byte>(p, n)); break;
                case ElementType.BFloat16:
                {
                    var values = (ushort*)p;
                    for (var i = 0; i < n; i++) values[i] = ToBFloat16(FromBFloat16(values[i]) / divisor);
                    break;
                }
                default: throw Unsupported(type, ReduceOp.Average);
            }
        }
    }

    /// <summary>
    /// For <see cref="ReduceOp.Average"/> of a dtype whose sum of a few values overflows (integers up to 32 bits,
    /// float16), the dtype to sum in (int64, float32) so that the average comes out right; null when the dtype itself
    /// serves. The average always fits the dtype; only int64 sums beyond ±9.2e18 still overflow.
    /// </summary>
    public static ElementType? AverageType(ElementType type, ReduceOp op) => op != ReduceOp.Average ? null : type switch
    {
        ElementType.Int8 or ElementType.UInt8 or ElementType.Int16 or ElementType.Int32 => ElementType.Int64,
        ElementType.Float16 => ElementType.Float32,
        _ => null,
    };

    /// <summary>Throws the ACC2121 error when <paramref name="type"/> cannot be reduced.</summary>
    public static void EnsureSupported(ElementType type, ReduceOp op)
    {
        if (type == ElementType.Bool) throw Unsupported(type, op);
    }

    private static AccelerateException Unsupported(ElementType type, ReduceOp op) =>
        new(RuntimeErrorCode.UnsupportedReduction, $"Cannot reduce ({op}) tensors of dtype {type.Name()}. Convert to a numeric dtype (e.g. int32) before AllReduce/ReduceScatter.");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Apply<T>(ReduceOp op, byte* left, byte* right, byte* destination, int n) where T : unmanaged, INumber<T>
    {
        var x = new ReadOnlySpan<T>(left, n);
        var y = new ReadOnlySpan<T>(right, n);
        var d = new Span<T>(destination, n);
        switch (op)
        {
            case ReduceOp.Sum or ReduceOp.Average when typeof(T) != typeof(Half): Add<T>(left, right, destination, n); break;
            case ReduceOp.Sum or ReduceOp.Average: TensorPrimitives.Add(x, y, d); break;
            case ReduceOp.Product: TensorPrimitives.Multiply(x, y, d); break;
            case ReduceOp.Min: TensorPrimitives.Min(x, y, d); break;
            case ReduceOp.Max: TensorPrimitives.Max(x, y, d); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    // The gradient path (Sum, float32 Average) runs its own SIMD loops, compiled fully optimized at
    // once: TensorPrimitives' generic kernels start as unoptimized tier-0 code and are recompiled
    // later, which slowed the all-reduces of a run's first ~100 steps and put JIT work on the core
    // the rank computes on. Element-wise like TensorPrimitives, so results are bit-identical.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add<T>(byte* left, byte* right, byte* destination, int n) where T : unmanaged, INumber<T>
    {
        T* x = (T*)left, y = (T*)right, d = (T*)destination;
        var i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                Vector.Store(Vector.Load(x + i) + Vector.Load(y + i), d + i);
        for (; i < n; i++) d[i] = x[i] + y[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale(float* data, float factor, int n)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Store(Vector.Load(data + i) * factor, data + i);
        for (; i < n; i++) data[i] *= factor;
    }

    private static void ApplyBFloat16(ReduceOp op, ushort* left, ushort* right, ushort* destination, int n)
    {
        // Widen a block to float, combine with SIMD, round back to nearest even.
        const int Chunk = 2048;
        var a = stackalloc float[Chunk];
        var b = stackalloc float[Chunk];
        for (var start = 0; start < n; start += Chunk)
        {
            var m = Math.Min(Chunk, n - start);
            for (var i = 0; i < m; i++)
            {
                a[i] = FromBFloat16(left[start + i]);
                b[i] = FromBFloat16(right[start + i]);
            }
            Apply<float>(op, (byte*)a, (byte*)b, (byte*)a, m);
            for (var i = 0; i < m; i++) destination[start + i] = ToBFloat16(a[i]);
        }
    }

    public static float FromBFloat16(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    public static ushort ToBFloat16(float value)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }
}
