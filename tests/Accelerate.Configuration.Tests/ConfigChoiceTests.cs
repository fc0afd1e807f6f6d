namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class ConfigChoiceTests
{
    [TestMethod]
    public void A_choice_converts_to_its_HF_spelling_and_null_stays_null()
    {
        var config = ConfigFile.Load(Fixtures.Path("multi_node.yaml"));

        string? type = config.DistributedType, precision = config.MixedPrecision, backend = config.RdzvBackend, unset = new ClusterConfig().MixedPrecision;

        Assert.AreEqual(("MULTI_GPU", "bf16", "c10d"), (type, precision, backend));
        Assert.IsNull(unset);
        Assert.AreEqual("LOCAL_MACHINE", config.ComputeEnvironment!.ToString());
    }

    [TestMethod]
    public void Parsing_ignores_letter_case_and_rejects_what_is_not_supported()
    {
        Assert.IsTrue(ConfigChoice.TryParse<DistributedType>("multi_cpu", out var type));
        Assert.AreSame(DistributedType.MultiCpu, type);
        Assert.IsFalse(ConfigChoice.TryParse<MixedPrecision>("fp8", out _));
        Assert.IsFalse(ConfigChoice.TryParse<RendezvousBackend>(null, out _));
        Assert.AreEqual("no, fp16, bf16", ConfigChoice.Allowed<MixedPrecision>());
        CollectionAssert.Contains(DistributedType.Unsupported.ToList(), "FSDP");
    }

    [TestMethod]
    public void Configs_are_equal_when_they_write_the_same_file()
    {
        var nested = new Dictionary<string, object?> { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = "/h" } };
        var a = new ClusterConfig { DistributedType = DistributedType.MultiCpu, NestedConfigs = nested };
        var b = new ClusterConfig
        {
            DistributedType = DistributedType.MultiCpu,
            NestedConfigs = new Dictionary<string, object?> { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = "/h" } },
        };

        Assert.AreEqual(a, b);
        Assert.AreEqual(a.GetHashCode(), b.GetHashCode());
        Assert.AreNotEqual(a, b with { NestedConfigs = new Dictionary<string, object?> { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = "/other" } } });
        Assert.AreNotEqual(a, a with { Debug = false });
    }
}
