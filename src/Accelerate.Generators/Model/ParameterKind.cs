namespace Accelerate.Generators.Model
{
    /// <summary>What the generated entry point passes for one parameter of a training function.</summary>
    internal enum ParameterKind
    {
        Accelerator,
        Arguments,
        CancellationToken,
    }
}
