using Accelerate.Build.Native;
using Accelerate.Build.Tasks;
using Microsoft.Build.Utilities;

namespace Accelerate.Build.Tests;

[TestClass]
public sealed class RepairLibTorchSharpTaskTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("accelerate-repair-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private (RepairLibTorchSharp Task, RecordingBuildEngine Engine) NewTask(Func<string, IReadOnlyCollection<string>?> versions)
    {
        var engine = new RecordingBuildEngine();
        var task = new RepairLibTorchSharp
        {
            BuildEngine = engine,
            Library = new TaskItem(TestPaths.PackagedLibTorchSharp),
            RepairedPath = Path.Combine(_directory, "out", "libLibTorchSharp.so"),
            StampFile = Path.Combine(_directory, "out", "libLibTorchSharp.repair"),
            FindDefinedVersions = versions,
        };
        return (task, engine);
    }

    private static IReadOnlyCollection<string>? WithoutGlibcxxAbove(string soname, int highest) =>
        soname == "libstdc++.so.6"
            ? (SystemLibraryLocator.DefinedVersions(soname) ?? []).Where(v => !IsGlibcxxAbove(v, highest)).ToHashSet()
            : SystemLibraryLocator.DefinedVersions(soname);

    private static bool IsGlibcxxAbove(string version, int highest) =>
        version.StartsWith("GLIBCXX_3.4.", StringComparison.Ordinal) && int.TryParse(version["GLIBCXX_3.4.".Length..], out var minor) && minor > highest;

    [TestMethod]
    public void Writes_a_repaired_copy_and_records_the_decision()
    {
        var (task, engine) = NewTask(s => WithoutGlibcxxAbove(s, 30));

        Assert.IsTrue(task.Execute());

        Assert.AreEqual(0, engine.Errors.Count);
        Assert.AreEqual("repaired", File.ReadAllText(task.StampFile).Trim());
        Assert.IsTrue(ElfFile.Read(task.RepairedPath).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.IsTrue(engine.Messages.Any(m => m.Message!.Contains("GLIBCXX_3.4.32") && m.Message.Contains("_ZSt21ios_base_library_initv")));
    }

    [TestMethod]
    public void Writes_nothing_but_the_decision_when_the_system_has_every_version()
    {
        var (task, engine) = NewTask(s => WithoutGlibcxxAbove(s, 99) is { } v && s == "libstdc++.so.6" ? [.. v, "GLIBCXX_3.4.31", "GLIBCXX_3.4.32"] : WithoutGlibcxxAbove(s, 99));

        Assert.IsTrue(task.Execute());

        Assert.AreEqual(0, engine.Errors.Count);
        Assert.AreEqual("unchanged", File.ReadAllText(task.StampFile).Trim());
        Assert.IsFalse(File.Exists(task.RepairedPath));
    }

    [TestMethod]
    public void Refuses_with_ACC1001_naming_the_version_the_symbols_and_the_system_needed()
    {
        var (task, engine) = NewTask(s => WithoutGlibcxxAbove(s, 29));

        Assert.IsFalse(task.Execute());

        var error = engine.Errors.Single();
        Assert.AreEqual("ACC1001", error.Code);
        StringAssert.Contains(error.Message, "GLIBCXX_3.4.30");
        StringAssert.Contains(error.Message, "libstdc++.so.6");
        StringAssert.Contains(error.Message, "GCC 12");
        Assert.IsFalse(File.Exists(task.RepairedPath));
    }

    [TestMethod]
    public void A_library_that_is_not_ELF_is_ACC1002()
    {
        var bogus = Path.Combine(_directory, "libLibTorchSharp.so");
        File.WriteAllBytes(bogus, new byte[128]);
        var (task, engine) = NewTask(SystemLibraryLocator.DefinedVersions);
        task.Library = new TaskItem(bogus);

        Assert.IsFalse(task.Execute());

        Assert.AreEqual("ACC1002", engine.Errors.Single().Code);
        StringAssert.Contains(engine.Errors.Single().Message, bogus);
    }

    [TestMethod]
    public void A_library_whose_version_requirements_link_to_a_missing_section_is_ACC1002()
    {
        var hostile = Path.Combine(_directory, "libLibTorchSharp.so");
        File.WriteAllBytes(hostile, new CraftedElf().WithLink(CraftedElf.VersionNeeds, 99).Bytes);
        var (task, engine) = NewTask(SystemLibraryLocator.DefinedVersions);
        task.Library = new TaskItem(hostile);

        Assert.IsFalse(task.Execute());

        Assert.AreEqual("ACC1002", engine.Errors.Single().Code);
        StringAssert.Contains(engine.Errors.Single().Message, "links to section 99");
    }
}
