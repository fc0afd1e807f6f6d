namespace Accelerate.Generators.Model
{
    /// <summary>Everything the output step needs, as values.</summary>
    internal sealed record GenerationInput(Declarations Declarations, ProjectSettings Settings);
}
