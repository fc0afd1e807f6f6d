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
}
