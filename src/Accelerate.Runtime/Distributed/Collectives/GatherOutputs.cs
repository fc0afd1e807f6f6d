using TorchSharp;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// The checks on the caller's output tensors of the gathers that write into them (<c>AllGather(outputs, input)</c>,
/// <c>AllGatherInto</c>, <c>Gather(input, outputs, destination)</c>, <c>GatherInto</c>), made before any rank moves a
/// byte, with the error naming the argument and the tensor to pass instead: the collective writes the outputs through
/// their addresses, so each must be contiguous and exactly as large as the part it receives.
/// </summary>
internal static class GatherOutputs
{
    /// <summary>Checks that <paramref name="outputs"/> holds <paramref name="worldSize"/> contiguous tensors shaped and typed like <paramref name="input"/>.</summary>
    public static void CheckList(string operation, IReadOnlyList<torch.Tensor>? outputs, string argument, torch.Tensor input, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckList(operation, outputs, argument, input.dtype, input.shape, worldSize);
    }

    /// <summary>The same, given the input's dtype and shape (each read once: on a collective's path every native call counts).</summary>
    public static void CheckList(string operation, IReadOnlyList<torch.Tensor>? outputs, string argument, torch.ScalarType inputType, long[] inputShape, int worldSize)
    {
        if (outputs is null || outputs.Count != worldSize)
            throw new AccelerateException(RuntimeErrorCode.GatherOutputCount, $"{operation} got {(outputs is null ? "no" : outputs.Count.ToString())} tensors in '{argument}' for {worldSize} ranks: " +
                $"pass one tensor per rank ({argument}[r] receives rank r's input), e.g. Enumerable.Range(0, group.WorldSize).Select(_ => torch.empty_like(input)).ToArray().");
        for (var r = 0; r < worldSize; r++)
        {
            var output = outputs[r] ?? throw new AccelerateException(RuntimeErrorCode.GatherOutputCount, $"{operation}: {argument}[{r}] is null; pass one tensor per rank, e.g. torch.empty_like(input).");
            var name = $"{argument}[{r}]";
            CheckType(operation, output, name, inputType);
            var shape = TensorMemory.Shape(output);
            if (!shape.SequenceEqual(inputShape))
                throw new AccelerateException(RuntimeErrorCode.GatherOutputShape, $"{operation}: {name} has shape {Shape(shape)}, but it receives rank {r}'s input, which every rank passes shaped like this rank's, {Shape(inputShape)}. " +
                    "Allocate it with torch.empty_like(input) (every rank's input must have the same shape; use AllGather(tensor) or Gather(tensor, destination) when the first dimension differs).");
            CheckContiguous(operation, output, name);
        }
    }

    /// <summary>
    /// Checks that <paramref name="output"/> holds <paramref name="worldSize"/> inputs concatenated along dim 0
    /// (<c>[worldSize * rows, ...]</c>) or stacked (<c>[worldSize, ...input.shape]</c>), contiguous and typed like <paramref name="input"/>.
    /// </summary>
    public static void CheckConcatenated(string operation, torch.Tensor? output, string argument, torch.Tensor input, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckConcatenated(operation, output, argument, input.dtype, input.shape, worldSize);
    }

    /// <summary>The same, given the input's dtype and shape.</summary>
    public static void CheckConcatenated(string operation, torch.Tensor? output, string argument, torch.ScalarType inputType, long[] inputShape, int worldSize)
    {
        var concatenated = Concatenated(inputShape, worldSize);
        long[] stacked = [worldSize, .. inputShape];
        if (output is null)
            throw new AccelerateException(RuntimeErrorCode.GatherOutputCount, $"{operation} got no '{argument}' on the rank that receives the gathered tensors: " +
                $"pass a tensor of shape {Shape(concatenated)}, e.g. torch.empty({Shape(concatenated)}, input.dtype).");
        CheckType(operation, output, argument, inputType);
        var shape = TensorMemory.Shape(output);
        if (!shape.SequenceEqual(concatenated) && !shape.SequenceEqual(stacked))
            throw new AccelerateException(RuntimeErrorCode.GatherOutputShape, $"{operation}: '{argument}' has shape {Shape(shape)}, but it receives {worldSize} inputs of shape {Shape(inputShape)} (every rank's input has this rank's shape): " +
                $"pass a tensor of shape {Shape(concatenated)} (concatenated along dim 0) or {Shape(stacked)} (stacked), e.g. torch.empty({Shape(concatenated)}, input.dtype).");
        CheckContiguous(operation, output, argument);
    }

    /// <summary>The parts of a checked concatenated <paramref name="output"/>, each shaped like <paramref name="input"/> (views; the caller disposes them).</summary>
    public static torch.Tensor[] Parts(torch.Tensor output, torch.Tensor input, int worldSize)
    {
        using var rows = output.view([worldSize, .. input.shape]);
        return Enumerable.Range(0, worldSize).Select(r => rows[r]).ToArray();
    }

    private static long[] Concatenated(long[] shape, int worldSize) =>
        shape.Length == 0 ? [worldSize] : [worldSize * shape[0], .. shape.Skip(1)];

    private static void CheckType(string operation, torch.Tensor output, string name, torch.ScalarType inputType)
    {
        var type = output.dtype;
        if (type != inputType)
            throw new AccelerateException(RuntimeErrorCode.GatherOutputDtype, $"{operation}: '{name}' is {type.ToString().ToLowerInvariant()} but the input is {inputType.ToString().ToLowerInvariant()}; the collective copies bytes, it does not convert. " +
                "Allocate the output with the input's dtype (torch.empty_like(input), or torch.empty(shape, input.dtype)) and convert afterwards with .to(dtype).");
    }

    private static void CheckContiguous(string operation, torch.Tensor output, string name)
    {
        if (!output.is_contiguous())
            throw new AccelerateException(RuntimeErrorCode.GatherOutputNotContiguous, $"{operation}: '{name}' is not contiguous (a transposed, strided or sliced view), and the collective writes its elements in row-major order through its address. " +
                "Pass a contiguous tensor (torch.empty(...) or .contiguous()), then copy into the view if needed.");
    }

    private static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";
}
