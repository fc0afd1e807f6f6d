using System.Runtime.InteropServices;

namespace Accelerate;

/// <summary>
/// Recognizes libtorch's dtype-mismatch errors (an fp32 tensor meeting fp16/bf16 weights or
/// outputs) under mixed precision and restates them as ACC2240, which names mixed precision and
/// the fix, without libtorch's page of C++ stack; likewise TorchSharp's refusal to read an fp16/bf16
/// tensor with <c>item&lt;float&gt;()</c> (ACC2246).
/// </summary>
internal static class MixedPrecisionMismatch
{
    // libtorch's wordings: matmul/linear, convolution, losses, index/copy kernels.
    private static readonly string[] MismatchWordings =
        ["must have the same dtype", "should be the same", "expected scalar type", "but expected", "expected both", "to have the same dtype"];

    private static readonly string[] ReducedTypeNames = ["BFloat16", "Half"];

    /// <summary>
    /// ACC2240 for <paramref name="error"/> when it is such a mismatch under <paramref name="accelerator"/>'s
    /// mixed precision, ACC2246 when an fp16/bf16 tensor was read with <c>item&lt;float&gt;()</c>; otherwise null.
    /// </summary>
    public static AccelerateException? Explain(Exception error, Accelerator? accelerator)
    {
        if (accelerator?.ComputeType is null) return null;
        var name = accelerator.MixedPrecision == MixedPrecision.Fp16 ? "fp16" : "bf16";
        // TorchSharp's item<T>() on a tensor of another dtype: "Single is not compatible with BFloat16".
        if (error is ArgumentException && error.Message.Contains(" is not compatible with ") && ReducedTypeNames.Any(error.Message.Contains))
            return new AccelerateException(RuntimeErrorCode.ReducedPrecisionItem,
                $"A {name} tensor was read as a .NET number of another type ({error.Message.Trim()}). Under mixed precision {name} the model's parameters, " +
                $"and the outputs and losses computed from tensors the accelerator handed out, are {name}. Read a value with t.ToSingle() or " +
                "t.to(ScalarType.Float32).item<float>(), and the fp32 weights with accelerator.GetStateDict(model).", error);
        if (error is not ExternalException) return null;
        var line = error.Message.Split('\n')[0].Trim();
        if (!MismatchWordings.Any(line.Contains) || !ReducedTypeNames.Any(line.Contains)) return null;
        return new AccelerateException(RuntimeErrorCode.MixedPrecisionDtypeMismatch,
            $"Mixed precision {name} runs the prepared model in {name}, and a tensor of another dtype met its weights or its output (libtorch: {line}). " +
            $"Take inputs and targets from the accelerator (a prepared data loader and SplitRowsBetweenProcesses hand them out in {name}), " +
            "run the model with model.call(x) rather than model.forward(x) (call converts fp32 inputs and returns fp32), " +
            "or convert a tensor yourself with x.to(accelerator.ComputeType!.Value); compute the loss from an output and a target of the same dtype. " +
            "To train in fp32 instead, run without mixed precision (--mixed_precision no).", error);
    }
}
