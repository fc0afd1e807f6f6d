using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Model
{
    /// <summary>What the generator needs to know about the project as a whole.</summary>
    /// <param name="OutputKind">What the project builds (an entry point needs an executable).</param>
    /// <param name="BuildChoice">The MSBuild property <c>MainTrainingFunction</c>, when set.</param>
    /// <param name="LambdaAttributes">Whether the project's C# version (10 or later) allows attributes on lambdas.</param>
    internal sealed record ProjectSettings(OutputKind OutputKind, string? BuildChoice, bool LambdaAttributes);
}
