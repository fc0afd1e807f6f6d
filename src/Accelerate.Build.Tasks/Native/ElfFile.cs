using System.Buffers.Binary;
using System.Text;

namespace Accelerate.Build.Native;

/// <summary>
/// A read-only view of the parts of a 64-bit little-endian ELF shared object that decide whether
/// the dynamic loader will accept it: the symbol versions it needs, the ones it defines, which
/// dynamic symbols are bound to which version, and which symbols relocations refer to.
/// </summary>
public sealed class ElfFile
{
    private const uint SectionTypeStrings = 3;
    private const uint SectionTypeRela = 4;
    private const uint SectionTypeRel = 9;
    private const uint SectionTypeDynamicSymbols = 11;
    private const uint SectionTypeVersionDefinitions = 0x6ffffffd;
    private const uint SectionTypeVersionNeeds = 0x6ffffffe;
    private const uint SectionTypeVersionSymbols = 0x6fffffff;
    private const uint SectionTypeNoBits = 8;
    private const ushort VersionIndexMask = 0x7fff;
    private const int SymbolSize = 24, RelaSize = 24, RelSize = 16, VersionIndexSize = 2;

    private readonly byte[] _bytes;

    private ElfFile(string path, byte[] bytes)
    {
        Path = path;
        _bytes = bytes;
    }

    /// <summary>The file this view was read from.</summary>
    public string Path { get; }

    /// <summary>Version requirements (<c>.gnu.version_r</c>), one per needed library and version.</summary>
    public IReadOnlyList<ElfVersionNeed> VersionNeeds { get; private set; } = [];

    /// <summary>Version names this object defines (<c>.gnu.version_d</c>), e.g. <c>GLIBCXX_3.4.30</c>.</summary>
    public IReadOnlyCollection<string> VersionDefinitions { get; private set; } = [];

    /// <summary>Dynamic symbols with the version index each is bound to.</summary>
    public IReadOnlyList<ElfDynamicSymbol> DynamicSymbols { get; private set; } = [];

    /// <summary>Indexes into <see cref="DynamicSymbols"/> that at least one relocation refers to.</summary>
    public IReadOnlySet<int> RelocatedSymbolIndexes { get; private set; } = new HashSet<int>();

    /// <summary>Reads an ELF file; throws <see cref="InvalidDataException"/> when it is not one this reader handles.</summary>
    public static ElfFile Read(string path) => Parse(path, File.ReadAllBytes(path));

    /// <summary>Parses ELF bytes already in memory; throws <see cref="InvalidDataException"/> for any malformed input.</summary>
    public static ElfFile Parse(string path, byte[] bytes)
    {
        var file = new ElfFile(path, bytes);
        try
        {
            file.ParseSections();
        }
        catch (Exception e) when (e is ArgumentException or OverflowException or IndexOutOfRangeException)
        {
            // Every field is checked before use; this is the backstop for a check missed, so that a hostile file
            // is still reported as unreadable rather than as a crash of the build.
            throw new InvalidDataException($"{path} is a malformed ELF file ({e.Message}).", e);
        }
        return file;
    }

    /// <summary>The undefined dynamic symbols bound to the given version requirement.</summary>
    public IEnumerable<ElfDynamicSymbol> SymbolsBoundTo(ElfVersionNeed need) =>
        DynamicSymbols.Where(s => s.VersionIndex == need.VersionIndex && s.IsUndefined);

    /// <summary>
    /// Returns a copy of the file's bytes in which the given requirement is marked weak
    /// (<c>VER_FLG_WEAK</c>), so that the loader accepts the object when the version is absent.
    /// </summary>
    public byte[] WithWeakRequirement(ElfVersionNeed need)
    {
        var copy = (byte[])_bytes.Clone();
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(copy.AsSpan(need.FlagsOffset));
        BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(need.FlagsOffset), (ushort)(flags | ElfVersionNeed.WeakFlag));
        return copy;
    }

    private void ParseSections()
    {
        var span = _bytes.AsSpan();
        if (span.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new InvalidDataException($"{Path} is not an ELF file.");
        if (span[4] != 2 || span[5] != 1)
            throw new InvalidDataException($"{Path} is not a 64-bit little-endian ELF file; only those are supported.");

        var sectionTableOffset = ReadU64(0x28);
        var sectionEntrySize = ReadU16(0x3A);
        var sectionCount = ReadU16(0x3C);
        if (sectionTableOffset == 0 || sectionCount == 0)
            throw new InvalidDataException($"{Path} has no section headers.");
        // Compared as remaining room, never as offset + size, so that huge values cannot wrap around.
        var length = (ulong)span.Length;
        if (sectionEntrySize < 64 || sectionTableOffset > length || (length - sectionTableOffset) / sectionEntrySize < sectionCount)
            throw new InvalidDataException($"{Path} has a section header table outside the file.");

        var sections = new Section[sectionCount];
        for (var i = 0; i < sectionCount; i++)
        {
            var at = (int)sectionTableOffset + i * sectionEntrySize;
            sections[i] = new Section(i, ReadU32(at + 4), ReadU64(at + 0x18), ReadU64(at + 0x20), ReadU32(at + 0x28), ReadU64(at + 0x38));
            if (sections[i].Type != SectionTypeNoBits && (sections[i].Offset > length || sections[i].Size > length - sections[i].Offset))
                throw new InvalidDataException($"{Path}: section {i} lies outside the file.");
        }

        var dynsymIndex = Array.FindIndex(sections, s => s.Type == SectionTypeDynamicSymbols);
        if (dynsymIndex >= 0)
            DynamicSymbols = ReadDynamicSymbols(sections, sections[dynsymIndex]);

        foreach (var s in sections)
        {
            switch (s.Type)
            {
                case SectionTypeVersionNeeds:
                    VersionNeeds = ReadVersionNeeds(s, LinkedStrings(sections, s));
                    break;
                case SectionTypeVersionDefinitions:
                    VersionDefinitions = ReadVersionDefinitions(s, LinkedStrings(sections, s));
                    break;
            }
        }

        var relocated = new HashSet<int>();
        foreach (var s in sections)
        {
            if (s.Type != SectionTypeRela && s.Type != SectionTypeRel) continue;
            var entrySize = EntrySize(s, s.Type == SectionTypeRela ? RelaSize : RelSize, "relocation");
            if (s.Link != dynsymIndex) continue;
            for (ulong at = 0; at + entrySize <= s.Size; at += entrySize)
                relocated.Add((int)(ReadU64((int)(s.Offset + at + 8)) >> 32));
        }
        RelocatedSymbolIndexes = relocated;
    }

    /// <summary>The entry size of <paramref name="section"/>, which must be the standard one (or 0, meaning it).</summary>
    private ulong EntrySize(Section section, int standard, string what)
    {
        if (section.EntrySize != 0 && section.EntrySize != (ulong)standard)
            throw new InvalidDataException($"{Path}: section {section.Index} has {what} entries of {section.EntrySize} bytes; they are {standard} bytes.");
        if (section.Size % (ulong)standard != 0)
            throw new InvalidDataException($"{Path}: section {section.Index} is {section.Size} bytes, not a whole number of {standard}-byte {what} entries.");
        return (ulong)standard;
    }

    /// <summary>The string table <paramref name="section"/> links to, checked to exist and to be one.</summary>
    private Section LinkedStrings(Section[] sections, Section section)
    {
        if (section.Link >= (uint)sections.Length)
            throw new InvalidDataException($"{Path}: section {section.Index} links to section {section.Link}, but the file has {sections.Length} sections.");
        var strings = sections[section.Link];
        if (strings.Type != SectionTypeStrings)
            throw new InvalidDataException($"{Path}: section {section.Index} links to section {section.Link} for its names, which is not a string table.");
        return strings;
    }

    private List<ElfDynamicSymbol> ReadDynamicSymbols(Section[] sections, Section dynsym)
    {
        var strings = LinkedStrings(sections, dynsym);
        EntrySize(dynsym, SymbolSize, "symbol");
        var versym = sections.FirstOrDefault(s => s.Type == SectionTypeVersionSymbols);
        var count = (int)(dynsym.Size / SymbolSize);
        if (versym.Type == SectionTypeVersionSymbols)
        {
            EntrySize(versym, VersionIndexSize, "version index");
            if (versym.Size / VersionIndexSize < (ulong)count)
                throw new InvalidDataException($"{Path}: section {versym.Index} has {versym.Size / VersionIndexSize} version indexes for {count} dynamic symbols.");
        }
        var symbols = new List<ElfDynamicSymbol>(count);
        for (var i = 0; i < count; i++)
        {
            var at = (int)dynsym.Offset + i * SymbolSize;
            var name = ReadString(strings, ReadU32(at));
            var sectionIndex = ReadU16(at + 6);
            var version = versym.Type == SectionTypeVersionSymbols
                ? (ushort)(ReadU16((int)versym.Offset + i * VersionIndexSize) & VersionIndexMask)
                : (ushort)1;
            symbols.Add(new ElfDynamicSymbol(i, name, version, sectionIndex == 0));
        }
        return symbols;
    }

    private List<ElfVersionNeed> ReadVersionNeeds(Section section, Section strings)
    {
        var needs = new List<ElfVersionNeed>();
        var entry = section.Offset;
        var end = section.Offset + section.Size;
        while (entry + 16 <= end)
        {
            var at = checked((int)entry);
            var auxCount = ReadU16(at + 2);
            var file = ReadString(strings, ReadU32(at + 4));
            var aux = entry + ReadU32(at + 8);
            for (var i = 0; i < auxCount && aux + 16 <= end; i++)
            {
                var auxAt = checked((int)aux);
                needs.Add(new ElfVersionNeed(
                    file,
                    ReadString(strings, ReadU32(auxAt + 8)),
                    ReadU16(auxAt + 6),
                    ReadU16(auxAt + 4),
                    auxAt + 4));
                var nextAux = ReadU32(auxAt + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            var next = ReadU32(at + 12);
            if (next == 0) break;
            entry += next;
        }
        return needs;
    }

    private HashSet<string> ReadVersionDefinitions(Section section, Section strings)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var entry = section.Offset;
        var end = section.Offset + section.Size;
        while (entry + 20 <= end)
        {
            var at = checked((int)entry);
            var aux = entry + ReadU32(at + 12);
            if (aux + 8 <= end)
                names.Add(ReadString(strings, ReadU32(checked((int)aux))));
            var next = ReadU32(at + 16);
            if (next == 0) break;
            entry += next;
        }
        return names;
    }

    private string ReadString(Section strings, uint offset)
    {
        if (offset >= strings.Size) throw new InvalidDataException($"{Path}: string offset {offset} is outside its table.");
        var start = checked((int)(strings.Offset + offset));
        var length = _bytes.AsSpan(start, checked((int)(strings.Size - offset))).IndexOf((byte)0);
        if (length < 0) throw new InvalidDataException($"{Path}: unterminated string at {start}.");
        return Encoding.UTF8.GetString(_bytes, start, length);
    }

    private ushort ReadU16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(at, 2));
    private uint ReadU32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(at, 4));
    private ulong ReadU64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(at, 8));

    private readonly record struct Section(int Index, uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);
}
