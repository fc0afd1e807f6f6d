using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Converts the floating-point tensors of a batch to the compute precision, so that inputs match the
/// reduced-precision parameters. Integer tensors (class labels, token ids) are left alone.
/// Knows tensors, tuples of them, lists of them and dictionaries of them.
/// </summary>
internal static class BatchPrecision
{
    public static S Convert<S>(S batch, ScalarType dtype) => (S)Convert((object?)batch, dtype)!;

    private static object? Convert(object? value, ScalarType dtype)
    {
        switch (value)
        {
            case Tensor tensor:
                return tensor.is_floating_point() && tensor.dtype != dtype ? tensor.to(dtype) : tensor;
            case ITuple tuple when value.GetType().IsValueType:
                var items = new object?[tuple.Length];
                for (var i = 0; i < tuple.Length; i++) items[i] = Convert(tuple[i], dtype);
                return Activator.CreateInstance(value.GetType(), items);
            case IList<Tensor> list when !list.IsReadOnly:
                for (var i = 0; i < list.Count; i++) list[i] = (Tensor)Convert(list[i], dtype)!;
                return list;
            case IDictionary<string, Tensor> dictionary:
                foreach (var key in dictionary.Keys.ToList()) dictionary[key] = (Tensor)Convert(dictionary[key], dtype)!;
                return dictionary;
            default:
                return value;
        }
    }
}
