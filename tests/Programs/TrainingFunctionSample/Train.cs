using Accelerate;
using TorchSharp;

namespace TrainingFunctionSample;

/// <summary>What the tests ask the program to do, by its first argument.</summary>
public static class Train
{
    [TrainingFunction(Name = "train")]
    public static async Task<int> Run(Accelerator accelerator, string[] args, CancellationToken cancellationToken)
    {
        var rank = accelerator.ProcessIndex;
        switch (args.FirstOrDefault() ?? "hello")
        {
            case "hello":
                Console.WriteLine($"rank {rank} of {accelerator.NumProcesses}");
                return 0;
            case "allreduce":
                // Each rank contributes rank + 1; every rank must see the sum over all ranks.
                using (var value = torch.tensor(new float[] { rank + 1 }))
                {
                    accelerator.Group?.AllReduce(value);
                    Console.WriteLine($"rank {rank} sum {value.item<float>()}");
                }
                return 0;
            case "exit":
                return int.Parse(args[1]);
            case "throw":
                throw new InvalidOperationException($"rank {rank} failed on purpose");
            case "wait":
                Console.WriteLine("waiting");
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return 0;
            default:
                Console.Error.WriteLine($"unknown command '{args[0]}'");
                return 64;
        }
    }

    /// <summary>Needs no Accelerator, so it never loads libtorch: exits with the number of arguments.</summary>
    [TrainingFunction(Name = "count-args")]
    internal static int CountArguments(string[] args) => args.Length;
}
