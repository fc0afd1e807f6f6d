using Accelerate.Native;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// Where a contiguous tensor's elements are, and how many bytes they take. TorchSharp's
/// <c>Tensor.bytes</c> is a span, which cannot cover 2 GiB or more; collectives work on the
/// address and a 64-bit length instead (LibTorchSharp's <c>THSTensor_data</c>, also for CUDA tensors).
/// </summary>
internal static unsafe class TensorMemory
{
    private static readonly Lazy<nint> TensorData = new(Bind);

    /// <summary>The address of the tensor's first element (its storage offset included).</summary>
    public static nint Address(torch.Tensor tensor) => ((delegate* unmanaged<nint, nint>)TensorData.Value)(tensor.Handle);

    /// <summary>
    /// The tensor's shape, read one dimension at a time: TorchSharp's <c>shape</c> property has native code allocate the
    /// array through a callback into managed code, which costs over a microsecond on a collective's path.
    /// </summary>
    public static long[] Shape(torch.Tensor tensor)
    {
        var shape = new long[tensor.dim()];
        for (var d = 0; d < shape.Length; d++) shape[d] = tensor.size(d);
        return shape;
    }

    /// <summary>The bytes of a contiguous tensor's elements.</summary>
    public static long ByteLength(torch.Tensor tensor) => tensor.numel() * tensor.ElementSize;

    private static nint Bind()
    {
        var library = LibTorchLoader.FindLibTorchSharp() ?? "LibTorchSharp";
        return NativeLibrary.GetExport(NativeLibrary.Load(library), "THSTensor_data");
    }
}
