namespace Accelerate.Configuration.Reading;

/// <summary>
/// What a config file may cost to read. Real files are a few hundred bytes, a few levels deep, with no
/// aliases; the limits sit far above that and far below what would hurt the launcher or a build.
/// </summary>
internal static class ReadingLimits
{
    /// <summary>Largest file read (bytes of UTF-8, or characters of text already in memory).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Deepest nesting of mappings and lists; deeper input would exhaust the stack of a recursive reader.</summary>
    public const int MaxDepth = 64;

    /// <summary>Most YAML alias references (<c>*name</c>) in one file.</summary>
    public const int MaxAliases = 100;

    /// <summary>Most values (scalars, mappings, lists) in the file once every alias is expanded.</summary>
    public const long MaxExpandedValues = 10_000;

    /// <summary>Most characters of scalar text in the file once every alias is expanded.</summary>
    public const long MaxExpandedCharacters = MaxFileBytes;
}
