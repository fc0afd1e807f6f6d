namespace Accelerate.Build.Native;

/// <summary>One <c>Vernaux</c> entry: a library this object needs, and a version it needs from it.</summary>
/// <param name="File">The needed library's soname, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="VersionIndex">The index symbols use in <c>.gnu.version</c> to bind to this version.</param>
/// <param name="Flags">The entry's flags; <see cref="WeakFlag"/> makes a missing version non-fatal.</param>
/// <param name="FlagsOffset">File offset of the flags field, where a repair writes.</param>
public sealed record ElfVersionNeed(string File, string Version, ushort VersionIndex, ushort Flags, int FlagsOffset)
{
    /// <summary><c>VER_FLG_WEAK</c>: the loader tolerates the absence of this version.</summary>
    public const ushort WeakFlag = 0x2;

    /// <summary>Whether the requirement is already weak.</summary>
    public bool IsWeak => (Flags & WeakFlag) != 0;
}
