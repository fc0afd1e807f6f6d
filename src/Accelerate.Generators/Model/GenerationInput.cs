using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Model
{
    /// <summary>Everything the output step needs, as values.</summary>
    /// <param name="BuildChoice">The MSBuild property <c>MainTrainingFunction</c>, when set.</param>
    /// <param name="LambdaAttributes">Whether the project's C# version (10 or later) allows attributes on lambdas.</param>
    internal sealed record GenerationInput(
        EquatableArray<TrainingFunctionModel> Functions,
        EquatableArray<ExistingEntryPoint> EntryPoints,
        OutputKind OutputKind,
        string? BuildChoice,
        bool LambdaAttributes);
}
