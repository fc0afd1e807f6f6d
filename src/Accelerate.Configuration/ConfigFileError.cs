namespace Accelerate.Configuration;

/// <summary>One problem in a config file: where it is, which key, what is wrong and how to fix it.</summary>
/// <param name="Code">Stable code from <see cref="ConfigErrorCode"/>.</param>
/// <param name="Path">The file.</param>
/// <param name="Line">1-based line, or 0 when the problem is not at one place (e.g. a missing key).</param>
/// <param name="Column">1-based column, or 0.</param>
/// <param name="Key">The key concerned, if any.</param>
/// <param name="Message">What is wrong and what to do.</param>
public sealed record ConfigFileError(string Code, string Path, int Line, int Column, string? Key, string Message)
{
    /// <summary><c>path:line:column: error CODE: message</c>, the shape editors and terminals link to.</summary>
    public override string ToString() =>
        Line > 0 ? $"{Path}:{Line}:{Column}: error {Code}: {Message}" : $"{Path}: error {Code}: {Message}";
}
