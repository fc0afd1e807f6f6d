using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Model
{
    /// <summary>Everything the output step needs, as values.</summary>
    /// <param name="BuildChoice">The MSBuild property <c>MainTrainingFunction</c>, when set.</param>
    internal sealed record GenerationInput(
        EquatableArray<TrainingFunctionModel> Functions,
        EquatableArray<ExistingEntryPoint> EntryPoints,
        OutputKind OutputKind,
        string? BuildChoice);
}
