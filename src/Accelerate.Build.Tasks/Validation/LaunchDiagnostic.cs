namespace Accelerate.Build.Validation;

/// <summary>One problem with the launch settings: a stable code, a message that says how to fix it, and where it is.</summary>
/// <param name="Code">The <c>ACC11xx</c> code.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
/// <param name="File">The file that holds the bad value, when there is one (a project or config file).</param>
/// <param name="Line">The 1-based line in <paramref name="File"/>, or 0 when unknown.</param>
public sealed record LaunchDiagnostic(string Code, string Message, string? File = null, int Line = 0);
