namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class AtomicSaveTests
{
    private static readonly ClusterConfig Config = new() { DistributedType = DistributedType.MultiCpu, NumProcesses = 4 };

    [TestMethod]
    public void Save_creates_missing_folders_and_leaves_no_temporary_file()
    {
        using var folder = new TemporaryFolder();
        var path = folder.File("deep/er/default_config.yaml");

        ConfigFile.Save(Config, path);

        Assert.AreEqual("distributed_type: MULTI_CPU\nnum_processes: 4\n", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [TestMethod]
    public void Save_replaces_the_file_by_rename_so_a_reader_never_sees_half_of_it()
    {
        using var folder = new TemporaryFolder();
        var path = folder.File("default_config.yaml", "distributed_type: NO\n");
        using var before = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        ConfigFile.Save(Config, path);

        // An in-place rewrite would have truncated the file this handle still reads; a rename leaves it whole.
        Assert.AreEqual("distributed_type: NO\n", new StreamReader(before).ReadToEnd());
        Assert.AreEqual(Config, ConfigFile.Load(path));
    }

    [TestMethod]
    public void A_failed_save_keeps_the_old_file_and_says_what_failed()
    {
        using var folder = new TemporaryFolder();
        var blocker = folder.File("not-a-folder", "x");

        var error = Assert.ThrowsExactly<ConfigFileException>(() => ConfigFile.Save(Config, Path.Combine(blocker, "default_config.yaml")));

        Assert.AreEqual(ConfigErrorCode.Io, error.Code);
        StringAssert.Contains(error.Message, "the config file cannot be written");
        Assert.AreEqual("x", File.ReadAllText(blocker));
        CollectionAssert.AreEqual(new[] { blocker }, Directory.GetFiles(folder.Path));
    }

    [TestMethod]
    public void A_json_path_is_written_as_json()
    {
        using var folder = new TemporaryFolder();
        var path = folder.File("config.json");

        ConfigFile.Save(Config, path);

        Assert.AreEqual("{\n  \"distributed_type\": \"MULTI_CPU\",\n  \"num_processes\": 4\n}\n", File.ReadAllText(path));
    }
}
