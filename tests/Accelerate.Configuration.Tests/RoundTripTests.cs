namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class RoundTripTests
{
    public static IEnumerable<object[]> AllFixtures => Fixtures.All;

    [TestMethod]
    [DynamicData(nameof(AllFixtures))]
    public void Every_fixture_survives_a_yaml_and_a_json_round_trip(string fixture)
    {
        using var folder = new TemporaryFolder();
        var original = ConfigFile.Load(Fixtures.Path(fixture));
        var expected = ConfigFile.Serialize(original, ConfigFormat.Yaml);

        foreach (var name in new[] { "round.yaml", "round.json" })
        {
            var path = folder.File(name);
            ConfigFile.Save(original, path);
            var reloaded = ConfigFile.Load(path);
            Assert.AreEqual(expected, ConfigFile.Serialize(reloaded, ConfigFormat.Yaml), $"{fixture} through {name}");
            Assert.AreEqual(original, reloaded);
        }
    }

    [TestMethod]
    public void Saving_drops_nulls_and_empty_mappings_and_sorts_keys_like_HF()
    {
        var config = ConfigFile.Load(Fixtures.Path("seed_example.yaml"));

        Assert.AreEqual("""
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_GPU
            downcast_bf16: 'no'
            gpu_ids: all
            machine_rank: 0
            main_training_function: main
            mixed_precision: fp16
            num_machines: 1
            num_processes: 2
            rdzv_backend: static
            same_network: true
            use_cpu: false

            """.ReplaceLineEndings("\n"), ConfigFile.Serialize(config, ConfigFormat.Yaml));
    }

    [TestMethod]
    public void Json_is_written_with_two_space_indent_sorted_keys_and_a_final_newline_like_HF()
    {
        var config = new ClusterConfig { DistributedType = DistributedType.No, UseCpu = true, NumProcesses = 1, MixedPrecision = MixedPrecision.No };

        Assert.AreEqual("{\n  \"distributed_type\": \"NO\",\n  \"mixed_precision\": \"no\",\n  \"num_processes\": 1,\n  \"use_cpu\": true\n}\n",
            ConfigFile.Serialize(config, ConfigFormat.Json));
    }

    [TestMethod]
    public void Strings_that_YAML_would_read_as_booleans_numbers_or_null_are_quoted()
    {
        var config = new ClusterConfig
        {
            DistributedType = DistributedType.No,
            GpuIds = "0",
            MainProcessIp = "null",
            DowncastBf16 = "no",
            OtherSettings = new Dictionary<string, object?> { ["tpu_name"] = "on", ["tpu_zone"] = "1.5", ["command_file"] = "a: b" },
        };

        var text = ConfigFile.Serialize(config, ConfigFormat.Yaml);

        StringAssert.Contains(text, "distributed_type: 'NO'");
        StringAssert.Contains(text, "gpu_ids: '0'");
        StringAssert.Contains(text, "main_process_ip: 'null'");
        StringAssert.Contains(text, "downcast_bf16: 'no'");
        StringAssert.Contains(text, "tpu_name: 'on'");
        StringAssert.Contains(text, "tpu_zone: '1.5'");
        var back = ConfigFile.Parse(text, ConfigFormat.Yaml);
        Assert.AreEqual("null", back.MainProcessIp);
        Assert.AreEqual("a: b", back.OtherSettings["command_file"]);
        Assert.AreEqual("1.5", back.OtherSettings["tpu_zone"]);
    }

    [TestMethod]
    public void Nested_settings_keep_their_types_through_a_round_trip()
    {
        var yaml = """
            distributed_type: MULTI_GPU
            fsdp_config:
              fsdp_offload_params: false
              fsdp_min_num_params: 100000000
              fsdp_ratio: 0.5
              fsdp_transformer_layer_cls_to_wrap: [GPT2Block, 'no']
              fsdp_nested: {a: 1}
            """;
        var config = ConfigFile.Parse(yaml, ConfigFormat.Yaml);
        var text = ConfigFile.Serialize(config, ConfigFormat.Yaml);
        var back = (IReadOnlyDictionary<string, object?>)ConfigFile.Parse(text, ConfigFormat.Yaml).NestedConfigs["fsdp_config"]!;

        Assert.AreEqual(false, back["fsdp_offload_params"]);
        Assert.AreEqual(100000000L, back["fsdp_min_num_params"]);
        Assert.AreEqual(0.5, back["fsdp_ratio"]);
        CollectionAssert.AreEqual(new object?[] { "GPT2Block", "no" }, ((IReadOnlyList<object?>)back["fsdp_transformer_layer_cls_to_wrap"]!).ToArray());
        Assert.AreEqual(1L, ((IReadOnlyDictionary<string, object?>)back["fsdp_nested"]!)["a"]);
    }
}
