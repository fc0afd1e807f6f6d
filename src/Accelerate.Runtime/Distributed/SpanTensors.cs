using System.Runtime.InteropServices;
using Accelerate.Distributed.Collectives;
using TorchSharp;

namespace Accelerate.Distributed;

/// <summary>Copies spans into CPU tensors and back, for backends that work on tensors only.</summary>
internal static class SpanTensors
{
    public static torch.Tensor From<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var tensor = torch.empty([values.Length], ElementTypes.Of<T>().ToScalarType());
        MemoryMarshal.AsBytes(values).CopyTo(tensor.bytes);
        return tensor;
    }

    public static void CopyTo<T>(torch.Tensor tensor, Span<T> values) where T : unmanaged =>
        tensor.bytes.CopyTo(MemoryMarshal.AsBytes(values));
}
