namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class ReadingHfFilesTests
{
    [TestMethod]
    public void The_seed_example_loads_with_every_value_and_keeps_its_empty_nested_configs_out()
    {
        var config = ConfigFile.Load(Fixtures.Path("seed_example.yaml"));

        Assert.AreEqual(ComputeEnvironment.LocalMachine, config.ComputeEnvironment);
        Assert.AreEqual(DistributedType.MultiGpu, config.DistributedType);
        Assert.AreEqual(MixedPrecision.Fp16, config.MixedPrecision);
        Assert.AreEqual(2, config.NumProcesses);
        Assert.AreEqual(0, config.MachineRank);
        Assert.AreEqual(1, config.NumMachines);
        Assert.AreEqual("all", config.GpuIds);
        Assert.IsNull(config.MainProcessIp);
        Assert.IsNull(config.MainProcessPort);
        Assert.AreEqual("main", config.MainTrainingFunction);
        Assert.AreEqual(RendezvousBackend.Static, config.RdzvBackend);
        Assert.IsTrue(config.SameNetwork);
        Assert.IsFalse(config.UseCpu);
        Assert.AreEqual("no", config.DowncastBf16);
        Assert.IsNull(config.Debug, "debug is absent from the file, so the launcher's default applies");
        Assert.AreEqual(0, config.NestedConfigs.Count, "deepspeed_config: {} and friends say nothing");
    }

    [TestMethod]
    public void A_minimal_file_sets_only_the_distributed_type()
    {
        var config = ConfigFile.Load(Fixtures.Path("minimal.yaml"));

        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.IsNull(config.NumProcesses);
        Assert.IsNull(config.MixedPrecision);
        Assert.IsNull(config.ComputeEnvironment);
        Assert.AreEqual("distributed_type: 'NO'\n", ConfigFile.Serialize(config, ConfigFormat.Yaml));
    }

    [TestMethod]
    public void A_legacy_fp16_true_means_mixed_precision_fp16()
    {
        var config = ConfigFile.Load(Fixtures.Path("legacy_fp16.yaml"));

        Assert.AreEqual(MixedPrecision.Fp16, config.MixedPrecision);
        var written = ConfigFile.Serialize(config, ConfigFormat.Yaml);
        StringAssert.Contains(written, "mixed_precision: fp16");
        Assert.DoesNotContain("fp16: true", written);
    }

    [TestMethod]
    public void A_legacy_fp16_does_not_override_an_explicit_mixed_precision()
    {
        var config = ConfigFile.Parse("distributed_type: NO\nfp16: true\nmixed_precision: bf16\n", ConfigFormat.Yaml);
        Assert.AreEqual(MixedPrecision.Bf16, config.MixedPrecision);

        var off = ConfigFile.Parse("distributed_type: NO\nfp16: false\n", ConfigFormat.Yaml);
        Assert.IsNull(off.MixedPrecision);
    }

    [TestMethod]
    public void A_legacy_dynamo_backend_NO_is_dropped_and_another_backend_becomes_dynamo_config()
    {
        var none = ConfigFile.Load(Fixtures.Path("legacy_dynamo_backend.yaml"));
        Assert.IsFalse(none.NestedConfigs.ContainsKey("dynamo_config"));

        var inductor = ConfigFile.Parse("distributed_type: NO\ndynamo_backend: INDUCTOR\n", ConfigFormat.Yaml);
        var dynamo = (IReadOnlyDictionary<string, object?>)inductor.NestedConfigs["dynamo_config"]!;
        Assert.AreEqual("INDUCTOR", dynamo["dynamo_backend"]);
    }

    [TestMethod]
    public void A_multi_node_file_keeps_rank_address_port_backend_and_gpu_list()
    {
        var config = ConfigFile.Load(Fixtures.Path("multi_node.yaml"));

        Assert.AreEqual(DistributedType.MultiGpu, config.DistributedType);
        Assert.AreEqual(1, config.MachineRank);
        Assert.AreEqual(2, config.NumMachines);
        Assert.AreEqual(8, config.NumProcesses);
        Assert.AreEqual("10.0.0.1", config.MainProcessIp);
        Assert.AreEqual(29501, config.MainProcessPort);
        Assert.AreEqual(RendezvousBackend.C10d, config.RdzvBackend);
        Assert.IsFalse(config.SameNetwork);
        Assert.IsTrue(config.Debug);
        Assert.AreEqual("0,1,2,3", config.GpuIds);
        Assert.AreEqual(MixedPrecision.Bf16, config.MixedPrecision);
        Assert.AreEqual(false, config.OtherSettings["tpu_use_cluster"]);
        Assert.AreEqual(0, ((IReadOnlyList<object?>)config.OtherSettings["tpu_env"]!).Count);
    }

    [TestMethod]
    public void A_multi_cpu_file_with_mpirun_config_exposes_the_hostfile()
    {
        var config = ConfigFile.Load(Fixtures.Path("multi_cpu_mpirun.yaml"));

        Assert.AreEqual(DistributedType.MultiCpu, config.DistributedType);
        Assert.IsTrue(config.UseCpu);
        Assert.AreEqual(16, config.NumProcesses);
        Assert.AreEqual(4, config.NumMachines);
        Assert.AreEqual("/home/user/hostfile", config.MpirunHostfile);
        var mpirun = (IReadOnlyDictionary<string, object?>)config.NestedConfigs["mpirun_config"]!;
        Assert.AreEqual("1", mpirun["mpirun_ccl"], "a quoted '1' stays a string");
        var ipex = (IReadOnlyDictionary<string, object?>)config.NestedConfigs["ipex_config"]!;
        Assert.AreEqual(false, ipex["ipex"]);
    }

    [TestMethod]
    public void A_json_file_as_config_default_writes_it_loads()
    {
        var config = ConfigFile.Load(Fixtures.Path("basic_config.json"));

        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.IsTrue(config.UseCpu);
        Assert.AreEqual(1, config.NumProcesses);
        Assert.AreEqual(MixedPrecision.No, config.MixedPrecision);
        Assert.AreEqual("false", config.DowncastBf16);
    }

    [TestMethod]
    public void Unquoted_NO_and_no_read_as_the_names_PyYAML_would_turn_into_false()
    {
        var config = ConfigFile.Parse("distributed_type: NO\nmixed_precision: no\nuse_cpu: yes\n", ConfigFormat.Yaml);

        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.AreEqual(MixedPrecision.No, config.MixedPrecision);
        Assert.IsTrue(config.UseCpu);
    }

    [TestMethod]
    public void Num_processes_minus_one_is_HF_for_not_set()
    {
        var config = ConfigFile.Parse("distributed_type: MULTI_GPU\nnum_processes: -1\n", ConfigFormat.Yaml);
        Assert.IsNull(config.NumProcesses);
    }

    [TestMethod]
    public void With_defaults_fills_HF_defaults_and_keeps_values_that_are_set()
    {
        var config = ConfigFile.Load(Fixtures.Path("minimal.yaml")).WithDefaults();

        Assert.AreEqual(ComputeEnvironment.LocalMachine, config.ComputeEnvironment);
        Assert.AreEqual(MixedPrecision.No, config.MixedPrecision);
        Assert.AreEqual(1, config.NumProcesses);
        Assert.AreEqual(0, config.MachineRank);
        Assert.AreEqual(1, config.NumMachines);
        Assert.AreEqual(RendezvousBackend.Static, config.RdzvBackend);
        Assert.AreEqual("main", config.MainTrainingFunction);
        Assert.IsFalse(config.UseCpu);
        Assert.IsFalse(config.Debug);
        Assert.IsFalse(config.SameNetwork);
        Assert.IsFalse(config.EnableCpuAffinity);

        var multi = ConfigFile.Load(Fixtures.Path("multi_node.yaml"));
        Assert.AreEqual(multi, multi.WithDefaults(), "a file that sets everything has nothing to fill in");
        Assert.IsNull(new ClusterConfig { DistributedType = DistributedType.MultiGpu }.WithDefaults().NumProcesses,
            "HF leaves num_processes unset for distributed types, so a launch asks for it");
    }
}
