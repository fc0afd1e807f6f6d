using Accelerate.Native;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// Where a contiguous tensor's elements are, and how many bytes they take. TorchSharp's
/// <c>Tensor.bytes</c> is a span, which cannot cover 2 GiB or more; collectives work on the
/// address and a 64-bit length instead (LibTorchSharp's <c>THSTensor_data</c>, also for CUDA tensors).
/// </summary>
/// <remarks>
/// What a small collective reads of its tensor (dtype, device, element count, contiguity, address) comes straight
/// from LibTorchSharp's accessors, without the transition to preemptive GC mode that an ordinary native call makes:
/// each is a few loads that neither blocks nor calls back, and catches its own C++ exceptions. Through TorchSharp's
/// properties (a transition each, and for some an error check, a second call) they cost about 150 ns per
/// collective, as much as a whole 4-byte all-reduce in shared memory.
/// </remarks>
internal static unsafe class TensorMemory
{
    /// <summary>The address of the tensor's first element (its storage offset included); 0 when it has no storage.</summary>
    public static nint Address(torch.Tensor tensor) => Exports.Data(tensor.Handle);

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

    /// <summary>The number of elements.</summary>
    public static long Count(torch.Tensor tensor) => Exports.Numel(tensor.Handle);

    /// <summary>The dtype.</summary>
    public static torch.ScalarType Dtype(torch.Tensor tensor) => (torch.ScalarType)Exports.Type(tensor.Handle);

    /// <summary>The device type (CPU, CUDA...).</summary>
    public static DeviceType Device(torch.Tensor tensor) => (DeviceType)Exports.DeviceType(tensor.Handle);

    /// <summary>True when the elements lie in row-major order without gaps (false, too, when torch cannot tell).</summary>
    public static bool IsContiguous(torch.Tensor tensor) => Exports.IsContiguous(tensor.Handle) != 0;

    private static class Exports
    {
        private static readonly nint Library = NativeLibrary.Load(LibTorchLoader.FindLibTorchSharp() ?? "LibTorchSharp");
        public static readonly delegate* unmanaged[SuppressGCTransition]<nint, nint> Data = (delegate* unmanaged[SuppressGCTransition]<nint, nint>)Bind("THSTensor_data");
        public static readonly delegate* unmanaged[SuppressGCTransition]<nint, long> Numel = (delegate* unmanaged[SuppressGCTransition]<nint, long>)Bind("THSTensor_numel");
        public static readonly delegate* unmanaged[SuppressGCTransition]<nint, sbyte> Type = (delegate* unmanaged[SuppressGCTransition]<nint, sbyte>)Bind("THSTensor_type");
        public static readonly delegate* unmanaged[SuppressGCTransition]<nint, int> DeviceType = (delegate* unmanaged[SuppressGCTransition]<nint, int>)Bind("THSTensor_device_type");
        public static readonly delegate* unmanaged[SuppressGCTransition]<nint, byte> IsContiguous = (delegate* unmanaged[SuppressGCTransition]<nint, byte>)Bind("THSTensor_is_contiguous");

        private static nint Bind(string name) => NativeLibrary.GetExport(Library, name);
    }
}
