namespace Accelerate.Generators.Model
{
    /// <summary>The project's training functions and the entry points its code already has.</summary>
    internal sealed record Declarations(
        EquatableArray<TrainingFunctionModel> Functions,
        EquatableArray<ExistingEntryPoint> EntryPoints);
}
