namespace Accelerate.Configuration.Tests;

/// <summary>
/// <c>Fixtures/every_key.yaml</c> and <c>every_key.json</c> set every key HF accelerate writes, as PyYAML's
/// <c>safe_dump</c> and <c>json.dump(indent=2, sort_keys=True)</c> write them (but for <c>gpu_ids: '0,1'</c>, which
/// our writer quotes and PyYAML reads the same either way). Each value is checked against the
/// literal here, not against our own writer, so a field dropped on reading or on writing shows.
/// </summary>
[TestClass]
public sealed class GoldenFileTests
{
    [TestMethod]
    [DataRow("every_key.yaml")]
    [DataRow("every_key.json")]
    public void Every_key_reads_into_its_setting(string fixture)
    {
        var config = ConfigFile.Load(Fixtures.Path(fixture));

        Assert.AreEqual(ComputeEnvironment.LocalMachine, config.ComputeEnvironment);
        Assert.AreEqual(true, config.Debug);
        Assert.AreEqual(DistributedType.MultiCpu, config.DistributedType);
        Assert.AreEqual("no", config.DowncastBf16);
        Assert.AreEqual(true, config.EnableCpuAffinity);
        Assert.AreEqual("0,1", config.GpuIds);
        Assert.AreEqual(1, config.MachineRank);
        Assert.AreEqual("10.1.2.3", config.MainProcessIp);
        Assert.AreEqual(29517, config.MainProcessPort);
        Assert.AreEqual("pretrain", config.MainTrainingFunction);
        Assert.AreEqual(MixedPrecision.Bf16, config.MixedPrecision);
        Assert.AreEqual(2, config.NumMachines);
        Assert.AreEqual(4, config.NumProcesses);
        Assert.AreEqual(RendezvousBackend.C10d, config.RdzvBackend);
        Assert.AreEqual(false, config.SameNetwork);
        Assert.AreEqual(true, config.UseCpu);
        Assert.AreEqual("/etc/accelerate/hostfile", config.MpirunHostfile);
        var fsdp = (IReadOnlyDictionary<string, object?>)config.NestedConfigs["fsdp_config"]!;
        Assert.AreEqual(100000000L, fsdp["fsdp_min_num_params"]);
        Assert.AreEqual(false, fsdp["fsdp_offload_params"]);
        Assert.AreEqual(0.5, fsdp["fsdp_ratio"]);
        CollectionAssert.AreEqual(new object?[] { "GPT2Block", "no" }, ((IReadOnlyList<object?>)fsdp["fsdp_transformer_layer_cls_to_wrap"]!).ToArray());
        Assert.AreEqual("1", ((IReadOnlyDictionary<string, object?>)config.NestedConfigs["mpirun_config"]!)["mpirun_ccl"]);
        CollectionAssert.AreEqual(new object?[] { "FOO=1", "BAR=2" }, ((IReadOnlyList<object?>)config.OtherSettings["tpu_env"]!).ToArray());
        Assert.AreEqual("on", config.OtherSettings["tpu_name"]);
    }

    [TestMethod]
    [DataRow("every_key.yaml", ConfigFormat.Yaml)]
    [DataRow("every_key.json", ConfigFormat.Json)]
    public void Every_key_is_written_back_as_HF_writes_it(string fixture, ConfigFormat format)
    {
        var config = ConfigFile.Load(Fixtures.Path(fixture));

        Assert.AreEqual(File.ReadAllText(Fixtures.Path(fixture)).ReplaceLineEndings("\n"), ConfigFile.Serialize(config, format));
    }

    [TestMethod]
    public void Configs_that_lack_any_one_key_are_not_equal()
    {
        var golden = ConfigFile.Load(Fixtures.Path("every_key.yaml"));
        // Each top-level key with its indented or listed continuation lines.
        var blocks = new List<List<string>>();
        foreach (var line in File.ReadAllText(Fixtures.Path("every_key.yaml")).ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (line.StartsWith(' ') || line.StartsWith('-')) blocks[^1].Add(line);
            else blocks.Add([line]);

        Assert.AreEqual(golden, ConfigFile.Load(Fixtures.Path("every_key.json")), "the YAML and JSON golden files hold the same settings");
        Assert.AreEqual(20, blocks.Count, "the sixteen settings ClusterConfig names, two nested configs and two other settings");
        foreach (var block in blocks.Where(b => !b[0].StartsWith("distributed_type:", StringComparison.Ordinal)))
        {
            var without = ConfigFile.Parse(string.Join("\n", blocks.Where(b => b != block).SelectMany(b => b)), ConfigFormat.Yaml);
            Assert.AreNotEqual(golden, without, $"a config without '{block[0]}'");
        }
    }
}
