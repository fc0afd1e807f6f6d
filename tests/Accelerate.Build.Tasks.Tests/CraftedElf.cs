using System.Buffers.Binary;
using System.Text;

namespace Accelerate.Build.Tests;

/// <summary>
/// A tiny well-formed 64-bit little-endian ELF object built byte by byte: a string table, two dynamic symbols,
/// their version indexes, one version requirement (<c>libfoo.so</c> <c>FOO_1</c>) and one relocation. Tests
/// change single fields of it to get hostile files.
/// </summary>
internal sealed class CraftedElf
{
    public const int NullSection = 0, Strings = 1, Symbols = 2, VersionSymbols = 3, VersionNeeds = 4, Relocations = 5;
    private const int SectionCount = 6;
    private const int HeaderSize = 64, SectionHeaderSize = 64;

    private readonly byte[] _bytes;
    private readonly int _sectionTable;

    public CraftedElf()
    {
        var strings = Encoding.ASCII.GetBytes("\0libfoo.so\0FOO_1\0foo\0");
        const int stringsAt = HeaderSize;
        var symbolsAt = Align(stringsAt + strings.Length);
        const int symbolsSize = 2 * 24;
        var versionsAt = symbolsAt + symbolsSize;
        const int versionsSize = 2 * 2;
        var needsAt = Align(versionsAt + versionsSize);
        const int needsSize = 16 + 16;
        var relocationsAt = needsAt + needsSize;
        const int relocationsSize = 24;
        _sectionTable = Align(relocationsAt + relocationsSize);
        _bytes = new byte[_sectionTable + SectionCount * SectionHeaderSize];

        "\u007fELF"u8.CopyTo(_bytes);
        _bytes[4] = 2; // 64-bit
        _bytes[5] = 1; // little-endian
        _bytes[6] = 1;
        WriteU64(0x28, (ulong)_sectionTable);
        WriteU16(0x3A, SectionHeaderSize);
        WriteU16(0x3C, SectionCount);

        strings.CopyTo(_bytes, stringsAt);
        // Symbol 1: "foo", undefined (section 0), bound to version index 2.
        WriteU32(symbolsAt + 24, 17);
        WriteU16(versionsAt + 2, 2);
        // One Verneed for libfoo.so with one Vernaux FOO_1 (index 2).
        WriteU16(needsAt, 1);
        WriteU16(needsAt + 2, 1);
        WriteU32(needsAt + 4, 1);
        WriteU32(needsAt + 8, 16);
        WriteU32(needsAt + 16 + 8, 11);
        WriteU16(needsAt + 16 + 6, 2);
        // One Elf64_Rela whose info names symbol 1.
        WriteU64(relocationsAt + 8, (1UL << 32) | 7);

        Section(Strings, type: 3, stringsAt, strings.Length, link: 0, entrySize: 0);
        Section(Symbols, type: 11, symbolsAt, symbolsSize, link: Strings, entrySize: 24);
        Section(VersionSymbols, type: 0x6fffffff, versionsAt, versionsSize, link: Symbols, entrySize: 2);
        Section(VersionNeeds, type: 0x6ffffffe, needsAt, needsSize, link: Strings, entrySize: 0);
        Section(Relocations, type: 4, relocationsAt, relocationsSize, link: Symbols, entrySize: 24);
    }

    public byte[] Bytes => _bytes;

    /// <summary>Sets the section header table offset (<c>e_shoff</c>).</summary>
    public CraftedElf WithSectionTableOffset(ulong offset) { WriteU64(0x28, offset); return this; }

    public CraftedElf WithOffset(int section, ulong offset) { WriteU64(Header(section) + 0x18, offset); return this; }
    public CraftedElf WithSize(int section, ulong size) { WriteU64(Header(section) + 0x20, size); return this; }
    public CraftedElf WithLink(int section, uint link) { WriteU32(Header(section) + 0x28, link); return this; }
    public CraftedElf WithEntrySize(int section, ulong entrySize) { WriteU64(Header(section) + 0x38, entrySize); return this; }

    private int Header(int section) => _sectionTable + section * SectionHeaderSize;

    private void Section(int index, uint type, int offset, int size, int link, int entrySize)
    {
        var at = Header(index);
        WriteU32(at + 4, type);
        WriteU64(at + 0x18, (ulong)offset);
        WriteU64(at + 0x20, (ulong)size);
        WriteU32(at + 0x28, (uint)link);
        WriteU64(at + 0x38, (ulong)entrySize);
    }

    private static int Align(int offset) => (offset + 7) & ~7;
    private void WriteU16(int at, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(at), value);
    private void WriteU32(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(at), value);
    private void WriteU64(int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(_bytes.AsSpan(at), value);
}
