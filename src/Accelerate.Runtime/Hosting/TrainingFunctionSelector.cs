namespace Accelerate.Hosting;

/// <summary>
/// Picks the <see cref="TrainingFunction"/> to run. The launcher's choice
/// (<c>ACCELERATE_MAIN_TRAINING_FUNCTION</c>) wins over the build's (MSBuild <c>MainTrainingFunction</c>,
/// baked into the generated entry point). Names compare ignoring case.
/// </summary>
internal static class TrainingFunctionSelector
{
    /// <summary>The function to run, and a warning to print when a lone function was run under another name.</summary>
    internal sealed record Selection(TrainingFunction Function, string? Warning);

    public static Selection Select(IReadOnlyList<TrainingFunction> functions, string? launchChoice, string? buildChoice)
    {
        if (functions.Count == 0)
            throw new ArgumentException("The generated entry point passed no training function.", nameof(functions));

        var (requested, source) = !string.IsNullOrWhiteSpace(launchChoice)
            ? (launchChoice.Trim(), TrainingHost.MainTrainingFunctionVariable)
            : !string.IsNullOrWhiteSpace(buildChoice)
                ? (buildChoice.Trim(), "the MSBuild property MainTrainingFunction")
                : (null, null);

        var match = requested is null ? null : functions.FirstOrDefault(f => string.Equals(f.Name, requested, StringComparison.OrdinalIgnoreCase));
        if (match is not null) return new Selection(match, null);

        if (functions.Count == 1)
        {
            // A config file names "main" by default (as HF's does); with one function there is nothing to choose.
            var only = functions[0];
            var warning = requested is null
                ? null
                : $"{source} is '{requested}', but the only [TrainingFunction] is '{only.Name}' ({only.Method}); running it.";
            return new Selection(only, warning);
        }

        var available = string.Join(", ", functions.Select(f => $"'{f.Name}' ({f.Method})"));
        if (requested is null)
            throw new AccelerateException(RuntimeErrorCode.NoTrainingFunctionChosen,
                $"This program has {functions.Count} [TrainingFunction] methods: {available}. Choose one with " +
                "`accelerate launch --main_training_function NAME`, `main_training_function: NAME` in the config file, " +
                $"`-p:MainTrainingFunction=NAME`, or the environment variable {TrainingHost.MainTrainingFunctionVariable}=NAME.");

        throw new AccelerateException(RuntimeErrorCode.UnknownTrainingFunction,
            $"{source} is '{requested}', which names no [TrainingFunction]. This program has: {available}. " +
            "Use one of these names, or set [TrainingFunction(Name = \"...\")] on the method you mean.");
    }
}
