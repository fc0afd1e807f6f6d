namespace Accelerate.Build.Native;

/// <summary>
/// What it takes for the loader on this machine to accept a shared object: nothing, marking some
/// version requirements weak, or nothing we can do (<see cref="Refusals"/> says why).
/// </summary>
public sealed class VersionRepairPlan
{
    /// <summary>
    /// Symbols that a newer libstdc++ exports only so that binaries built against it pull in that
    /// version; no code calls them. GCC 13 added <c>std::ios_base_library_init()</c> for this reason.
    /// </summary>
    public static readonly IReadOnlySet<string> KnownMarkerSymbols = new HashSet<string>(StringComparer.Ordinal)
    {
        "_ZSt21ios_base_library_initv",
    };

    private VersionRepairPlan(ElfFile library, IReadOnlyList<MissingVersion> missing)
    {
        Library = library;
        Missing = missing;
    }

    /// <summary>The object being examined.</summary>
    public ElfFile Library { get; }

    /// <summary>Every needed version that the library providing it on this machine does not define.</summary>
    public IReadOnlyList<MissingVersion> Missing { get; }

    /// <summary>True when the loader accepts the object as it is.</summary>
    public bool IsNeeded => Missing.Any(m => !m.Requirement.IsWeak);

    /// <summary>Missing versions that real code depends on: the object cannot be made to load.</summary>
    public IReadOnlyList<MissingVersion> Refusals => Missing.Where(m => !m.IsMarkerOnly).ToList();

    /// <summary>True when every missing version is bound only to marker symbols.</summary>
    public bool CanRepair => Refusals.Count == 0;

    /// <summary>
    /// Examines <paramref name="library"/> against the libraries it needs, located by
    /// <paramref name="findDefinedVersions"/> (soname → defined versions, or null when not found,
    /// in which case nothing is judged for that library).
    /// </summary>
    public static VersionRepairPlan Create(ElfFile library, Func<string, IReadOnlyCollection<string>?> findDefinedVersions)
    {
        var definedBySoname = new Dictionary<string, IReadOnlyCollection<string>?>(StringComparer.Ordinal);
        var missing = new List<MissingVersion>();
        foreach (var need in library.VersionNeeds)
        {
            if (!definedBySoname.TryGetValue(need.File, out var defined))
                definedBySoname[need.File] = defined = findDefinedVersions(need.File);
            if (defined is null || defined.Count == 0 || defined.Contains(need.Version)) continue;

            var symbols = library.SymbolsBoundTo(need).ToList();
            var markerOnly = symbols.All(s =>
                KnownMarkerSymbols.Contains(s.Name) && !library.RelocatedSymbolIndexes.Contains(s.Index));
            missing.Add(new MissingVersion(need, symbols.Select(s => s.Name).ToList(), markerOnly));
        }
        return new VersionRepairPlan(library, missing);
    }

    /// <summary>The repaired bytes: every missing marker-only requirement marked weak.</summary>
    public byte[] Apply()
    {
        if (!CanRepair) throw new InvalidOperationException("The plan has refusals; it cannot be applied.");
        var bytes = File.ReadAllBytes(Library.Path);
        var copy = ElfFile.Parse(Library.Path, bytes);
        foreach (var m in Missing.Where(m => !m.Requirement.IsWeak))
        {
            bytes = copy.WithWeakRequirement(m.Requirement);
            copy = ElfFile.Parse(Library.Path, bytes);
        }
        return bytes;
    }
}

/// <summary>A needed version absent on this machine, with the symbols bound to it.</summary>
/// <param name="Requirement">The requirement as the object states it.</param>
/// <param name="Symbols">Undefined symbols bound to that version.</param>
/// <param name="IsMarkerOnly">True when each of them is a known marker no relocation refers to.</param>
public sealed record MissingVersion(ElfVersionNeed Requirement, IReadOnlyList<string> Symbols, bool IsMarkerOnly);
