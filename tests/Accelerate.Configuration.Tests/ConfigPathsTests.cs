namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class ConfigPathsTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [TestMethod]
    public void HF_HOME_wins_and_has_no_huggingface_segment()
    {
        var path = ConfigPaths.DefaultConfigFile(Environment(("HF_HOME", "/data/hf"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")));
        Assert.AreEqual("/data/hf/accelerate/default_config.yaml", path);
    }

    [TestMethod]
    public void XDG_CACHE_HOME_is_used_when_HF_HOME_is_unset_or_empty()
    {
        Assert.AreEqual("/xdg/huggingface/accelerate/default_config.yaml",
            ConfigPaths.DefaultConfigFile(Environment(("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u"))));
        Assert.AreEqual("/xdg/huggingface/accelerate/default_config.yaml",
            ConfigPaths.DefaultConfigFile(Environment(("HF_HOME", ""), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u"))));
    }

    [TestMethod]
    public void Without_either_variable_the_file_is_under_the_home_cache()
    {
        Assert.AreEqual("/home/u/.cache/huggingface/accelerate/default_config.yaml",
            ConfigPaths.DefaultConfigFile(Environment(("HOME", "/home/u"))));
    }

    [TestMethod]
    public void A_tilde_in_a_variable_is_the_home_folder()
    {
        Assert.AreEqual("/home/u/hf/accelerate/default_config.yaml", ConfigPaths.DefaultConfigFile(Environment(("HF_HOME", "~/hf"), ("HOME", "/home/u"))));
        Assert.AreEqual("/home/u/c/huggingface/accelerate/default_config.yaml", ConfigPaths.DefaultConfigFile(Environment(("XDG_CACHE_HOME", "~/c"), ("HOME", "/home/u"))));
    }

    [TestMethod]
    public void A_launch_reads_an_explicit_file_even_with_cpu()
    {
        using var folder = new TemporaryFolder();
        var file = folder.File("mine.yaml", "distributed_type: NO\n");

        Assert.AreEqual(file, ConfigPaths.ForLaunch(file, cpu: true, Environment(("HF_HOME", folder.Path))));
        var loaded = ConfigFile.LoadForLaunch(file, cpu: false, Environment(("HF_HOME", folder.Path)));
        Assert.AreEqual(file, loaded!.Path);
        Assert.AreEqual(DistributedType.No, loaded.Config.DistributedType);
    }

    [TestMethod]
    public void A_launch_with_a_missing_explicit_file_fails_naming_it()
    {
        using var folder = new TemporaryFolder();
        var missing = folder.File("missing.yaml");

        var error = Assert.ThrowsExactly<ConfigFileException>(() => ConfigPaths.ForLaunch(missing, cpu: false, Environment(("HF_HOME", folder.Path))));

        Assert.AreEqual(ConfigErrorCode.FileNotFound, error.Code);
        StringAssert.StartsWith(error.Message, missing + ": error ACC2400: the file passed to --config_file does not exist.");
    }

    [TestMethod]
    public void A_launch_reads_the_default_file_when_it_exists_unless_cpu_is_passed()
    {
        using var folder = new TemporaryFolder();
        var environment = Environment(("HF_HOME", folder.Path));

        Assert.IsNull(ConfigPaths.ForLaunch(null, cpu: false, environment), "no default file yet");
        Assert.IsNull(ConfigFile.LoadForLaunch(null, cpu: false, environment));

        var fallback = folder.File("accelerate/default_config.yaml", "distributed_type: MULTI_CPU\nnum_processes: 3\n");
        Assert.AreEqual(fallback, ConfigPaths.ForLaunch(null, cpu: false, environment));
        Assert.AreEqual(3, ConfigFile.LoadForLaunch(null, cpu: false, environment)!.Config.NumProcesses);
        Assert.IsNull(ConfigPaths.ForLaunch(null, cpu: true, environment), "--cpu skips the default file, as HF");
    }
}
