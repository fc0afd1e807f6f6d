using Accelerate.Build.Native;

namespace Accelerate.Build.Tests;

[TestClass]
public sealed class VersionRepairPlanTests
{
    /// <summary>The versions of a libstdc++ from GCC 12 (Debian 12): up to GLIBCXX_3.4.30.</summary>
    private static IReadOnlyCollection<string>? Gcc12(string soname) => soname == "libstdc++.so.6"
        ? SystemVersionsOrDefault(soname).Where(v => !v.StartsWith("GLIBCXX_3.4.3", StringComparison.Ordinal) || v == "GLIBCXX_3.4.30").ToHashSet()
        : SystemVersionsOrDefault(soname);

    private static IReadOnlyCollection<string> SystemVersionsOrDefault(string soname) =>
        SystemLibraryLocator.DefinedVersions(soname) ?? [];

    [TestMethod]
    public void On_a_GCC_12_system_the_marker_version_is_missing_and_repairable()
    {
        var plan = VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp), Gcc12);

        Assert.IsTrue(plan.IsNeeded);
        Assert.IsTrue(plan.CanRepair);
        var missing = plan.Missing.Single();
        Assert.AreEqual("GLIBCXX_3.4.32", missing.Requirement.Version);
        CollectionAssert.AreEqual(new[] { "_ZSt21ios_base_library_initv" }, missing.Symbols.ToArray());
    }

    [TestMethod]
    public void The_repair_changes_only_the_flags_of_that_requirement()
    {
        var original = File.ReadAllBytes(TestPaths.PackagedLibTorchSharp);
        var plan = VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp), Gcc12);

        var repaired = plan.Apply();

        Assert.AreEqual(original.Length, repaired.Length);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != repaired[i]).ToList();
        Assert.AreEqual(1, changed.Count, "only the low byte of vna_flags changes");
        var after = ElfFile.Parse("repaired", repaired);
        Assert.IsTrue(after.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.IsTrue(after.VersionNeeds.Where(n => n.Version != "GLIBCXX_3.4.32").All(n => !n.IsWeak));
        Assert.IsFalse(VersionRepairPlan.Create(after, Gcc12).IsNeeded, "a repaired copy needs no further repair");
    }

    [TestMethod]
    public void The_package_file_is_left_as_it_was()
    {
        var before = File.ReadAllBytes(TestPaths.PackagedLibTorchSharp);

        VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp), Gcc12).Apply();

        CollectionAssert.AreEqual(before, File.ReadAllBytes(TestPaths.PackagedLibTorchSharp));
    }

    [TestMethod]
    public void When_the_system_has_every_version_nothing_is_needed()
    {
        var plan = VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp),
            soname => soname == "libstdc++.so.6" ? [.. SystemVersionsOrDefault(soname), "GLIBCXX_3.4.31", "GLIBCXX_3.4.32"] : SystemVersionsOrDefault(soname));

        Assert.IsFalse(plan.IsNeeded);
        Assert.AreEqual(0, plan.Missing.Count);
    }

    [TestMethod]
    public void A_missing_version_that_binds_real_functions_is_refused_with_their_names()
    {
        // A libstdc++ from GCC 11 lacks GLIBCXX_3.4.30, to which real functions are bound.
        var plan = VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp),
            soname => soname == "libstdc++.so.6" ? Gcc12(soname)!.Where(v => v != "GLIBCXX_3.4.30").ToHashSet() : SystemVersionsOrDefault(soname));

        Assert.IsFalse(plan.CanRepair);
        var refusal = plan.Refusals.Single();
        Assert.AreEqual("GLIBCXX_3.4.30", refusal.Requirement.Version);
        Assert.IsTrue(refusal.Symbols.Count > 0);
        Assert.IsFalse(refusal.Symbols.Contains("_ZSt21ios_base_library_initv"));
        Assert.ThrowsExactly<InvalidOperationException>(() => plan.Apply());
    }

    [TestMethod]
    public void This_machine_decides_by_its_own_libstdcxx()
    {
        var system = Readelf.DefinedVersions(Readelf.LoaderCachePath("libstdc++.so.6"));

        var plan = VersionRepairPlan.Create(ElfFile.Read(TestPaths.PackagedLibTorchSharp), SystemLibraryLocator.DefinedVersions);

        Assert.AreEqual(!system.Contains("GLIBCXX_3.4.32"), plan.IsNeeded, $"readelf lists {string.Join(", ", system.Where(v => v.StartsWith("GLIBCXX", StringComparison.Ordinal)))}");
        Assert.IsTrue(plan.CanRepair);
    }

    [TestMethod]
    public void The_versions_found_for_this_machines_libstdcxx_are_the_ones_readelf_lists()
    {
        var path = Readelf.LoaderCachePath("libstdc++.so.6");

        CollectionAssert.AreEquivalent(Readelf.DefinedVersions(path).Order().ToList(),
            SystemLibraryLocator.DefinedVersions("libstdc++.so.6")!.Where(v => v != "libstdc++.so.6").Order().ToList());
    }
}
