namespace Accelerate.Build.Validation;

/// <summary>Where a launch setting's value came from, for messages that point at it.</summary>
/// <param name="Description">How the user set it, e.g. <c>-p:NumProcesses=2</c> or <c>num_processes in default_config.yaml</c>.</param>
/// <param name="File">The file that holds it, if any.</param>
/// <param name="Line">Its 1-based line in <paramref name="File"/>, or 0.</param>
public sealed record SettingSource(string Description, string? File = null, int Line = 0);
