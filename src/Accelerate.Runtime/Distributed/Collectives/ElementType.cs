using TorchSharp;

namespace Accelerate.Distributed.Collectives;

/// <summary>The element types collectives move and reduce.</summary>
internal enum ElementType
{
    Float32,
    Float64,
    Float16,
    BFloat16,
    Int32,
    Int64,
    Int16,
    Int8,
    UInt8,
    Bool,
}

/// <summary>Maps TorchSharp dtypes and .NET types to <see cref="ElementType"/>.</summary>
internal static class ElementTypes
{
    public static ElementType Of(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => ElementType.Float32,
        torch.ScalarType.Float64 => ElementType.Float64,
        torch.ScalarType.Float16 => ElementType.Float16,
        torch.ScalarType.BFloat16 => ElementType.BFloat16,
        torch.ScalarType.Int32 => ElementType.Int32,
        torch.ScalarType.Int64 => ElementType.Int64,
        torch.ScalarType.Int16 => ElementType.Int16,
        torch.ScalarType.Int8 => ElementType.Int8,
        torch.ScalarType.Byte => ElementType.UInt8,
        torch.ScalarType.Bool => ElementType.Bool,
        _ => throw new AccelerateException(RuntimeErrorCode.UnsupportedDtype, $"Collectives do not support tensors of dtype {dtype}. Convert the tensor (e.g. tensor.to(ScalarType.Float32)) before the collective."),
    };

    public static ElementType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? ElementType.Float32 :
        typeof(T) == typeof(double) ? ElementType.Float64 :
        typeof(T) == typeof(Half) ? ElementType.Float16 :
        typeof(T) == typeof(int) ? ElementType.Int32 :
        typeof(T) == typeof(long) ? ElementType.Int64 :
        typeof(T) == typeof(short) ? ElementType.Int16 :
        typeof(T) == typeof(sbyte) ? ElementType.Int8 :
        typeof(T) == typeof(byte) ? ElementType.UInt8 :
        typeof(T) == typeof(bool) ? ElementType.Bool :
        throw new AccelerateException(RuntimeErrorCode.UnsupportedDtype, $"Collectives do not support spans of {typeof(T).Name}. Use float, double, Half, int, long, short, sbyte, byte or bool (bfloat16 through a tensor).");

    public static int Size(this ElementType type) => type switch
    {
        ElementType.Float64 or ElementType.Int64 => 8,
        ElementType.Float32 or ElementType.Int32 => 4,
        ElementType.Float16 or ElementType.BFloat16 or ElementType.Int16 => 2,
        _ => 1,
    };

    public static torch.ScalarType ToScalarType(this ElementType type) => type switch
    {
        ElementType.Float32 => torch.ScalarType.Float32,
        ElementType.Float64 => torch.ScalarType.Float64,
        ElementType.Float16 => torch.ScalarType.Float16,
        ElementType.BFloat16 => torch.ScalarType.BFloat16,
        ElementType.Int32 => torch.ScalarType.Int32,
        ElementType.Int64 => torch.ScalarType.Int64,
        ElementType.Int16 => torch.ScalarType.Int16,
        ElementType.Int8 => torch.ScalarType.Int8,
        ElementType.UInt8 => torch.ScalarType.Byte,
        _ => torch.ScalarType.Bool,
    };

    public static string Name(this ElementType type) => type.ToString().ToLowerInvariant();
}
