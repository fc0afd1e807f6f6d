using Accelerate.Build.Native;

namespace Accelerate.Build.Tests;

[TestClass]
public sealed class ElfFileTests
{
    private static ElfFile Packaged => ElfFile.Read(TestPaths.PackagedLibTorchSharp);

    [TestMethod]
    public void The_packaged_library_needs_GLIBCXX_3_4_32_from_libstdcxx()
    {
        var needs = Packaged.VersionNeeds.Where(n => n.File == "libstdc++.so.6").Select(n => n.Version).ToList();

        CollectionAssert.Contains(needs, "GLIBCXX_3.4.32");
        CollectionAssert.Contains(needs, "GLIBCXX_3.4.30");
        CollectionAssert.Contains(needs, "CXXABI_1.3");
    }

    [TestMethod]
    public void Only_the_ios_base_library_init_marker_is_bound_to_GLIBCXX_3_4_32_and_no_relocation_uses_it()
    {
        var library = Packaged;
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32");

        var symbols = library.SymbolsBoundTo(need).ToList();

        Assert.AreEqual(1, symbols.Count);
        Assert.AreEqual("_ZSt21ios_base_library_initv", symbols[0].Name);
        Assert.IsFalse(library.RelocatedSymbolIndexes.Contains(symbols[0].Index));
        Assert.IsFalse(need.IsWeak);
    }

    [TestMethod]
    public void Real_functions_are_bound_to_older_versions_and_relocations_refer_to_them()
    {
        var library = Packaged;
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.30");

        var symbols = library.SymbolsBoundTo(need).ToList();

        Assert.IsTrue(symbols.Count > 0);
        Assert.IsTrue(symbols.Any(s => library.RelocatedSymbolIndexes.Contains(s.Index)));
    }

    [TestMethod]
    public void The_system_libstdcxx_defines_its_versions()
    {
        var path = SystemLibraryLocator.Find("libstdc++.so.6");
        Assert.IsNotNull(path, "libstdc++.so.6 should be found where the loader looks");

        var defined = ElfFile.Read(path).VersionDefinitions;

        Assert.IsTrue(defined.Contains("GLIBCXX_3.4"));
        Assert.IsTrue(defined.Contains("CXXABI_1.3"));
    }

    [TestMethod]
    public void A_file_that_is_not_ELF_is_rejected_with_its_path()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "not an elf file, but long enough to have a header of sixty-four bytes in it");
            var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfFile.Read(path));
            StringAssert.Contains(e.Message, path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void A_crafted_well_formed_object_reads_its_requirement_symbol_and_relocation()
    {
        var file = ElfFile.Parse("crafted.so", new CraftedElf().Bytes);

        var need = file.VersionNeeds.Single();
        Assert.AreEqual(("libfoo.so", "FOO_1", (ushort)2), (need.File, need.Version, need.VersionIndex));
        Assert.AreEqual("foo", file.SymbolsBoundTo(need).Single().Name);
        Assert.IsTrue(file.RelocatedSymbolIndexes.Contains(1));
    }

    private static readonly Dictionary<string, Func<byte[]>> Hostile = new()
    {
        ["a section table offset that wraps around"] = () => new CraftedElf().WithSectionTableOffset(ulong.MaxValue - 63).Bytes,
        ["a section table offset beyond 2 GiB"] = () => new CraftedElf().WithSectionTableOffset(0x1_0000_0000).Bytes,
        ["a section offset plus size that wraps around"] = () => new CraftedElf().WithOffset(CraftedElf.Relocations, ulong.MaxValue - 7).WithSize(CraftedElf.Relocations, 32).Bytes,
        ["a string table offset that wraps around"] = () => new CraftedElf().WithOffset(CraftedElf.Strings, ulong.MaxValue - 3).WithSize(CraftedElf.Strings, 8).Bytes,
        ["a version requirement linked to a missing section"] = () => new CraftedElf().WithLink(CraftedElf.VersionNeeds, 99).Bytes,
        ["dynamic symbols linked to a missing section"] = () => new CraftedElf().WithLink(CraftedElf.Symbols, 0xffff_ffff).Bytes,
        ["dynamic symbols whose strings are not a string table"] = () => new CraftedElf().WithLink(CraftedElf.Symbols, CraftedElf.Relocations).Bytes,
        ["relocations of an odd entry size"] = () => new CraftedElf().WithEntrySize(CraftedElf.Relocations, 5).Bytes,
        ["relocations larger than their entries allow"] = () => new CraftedElf().WithEntrySize(CraftedElf.Relocations, 23).Bytes,
        ["dynamic symbols of an odd entry size"] = () => new CraftedElf().WithEntrySize(CraftedElf.Symbols, 7).Bytes,
        ["a dynamic symbol table size that is not a whole number of symbols"] = () => new CraftedElf().WithSize(CraftedElf.Symbols, 47).Bytes,
        ["version indexes fewer than the dynamic symbols"] = () => new CraftedElf().WithSize(CraftedElf.VersionSymbols, 2).Bytes,
        ["version indexes of an odd entry size"] = () => new CraftedElf().WithEntrySize(CraftedElf.VersionSymbols, 3).Bytes,
    };

    public static IEnumerable<string> HostileFiles => Hostile.Keys;

    [TestMethod]
    [DynamicData(nameof(HostileFiles))]
    public void A_malformed_object_is_rejected_as_invalid_data_naming_the_file(string what)
    {
        var bytes = Hostile[what]();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfFile.Parse("hostile.so", bytes), what);
        StringAssert.Contains(e.Message, "hostile.so", what);
    }
}
