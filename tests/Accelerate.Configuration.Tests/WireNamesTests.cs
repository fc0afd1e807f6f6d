namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class WireNamesTests
{
    [TestMethod]
    public void Every_value_has_its_HF_spelling()
    {
        Assert.AreEqual("NO MULTI_CPU MULTI_GPU", string.Join(' ', Enum.GetValues<DistributedType>().Select(v => v.ToWire())));
        Assert.AreEqual("no fp16 bf16", string.Join(' ', Enum.GetValues<MixedPrecision>().Select(v => v.ToWire())));
        Assert.AreEqual("static c10d", string.Join(' ', Enum.GetValues<RendezvousBackend>().Select(v => v.ToWire())));
        Assert.AreEqual("LOCAL_MACHINE", ComputeEnvironment.LocalMachine.ToWire());
    }

    [TestMethod]
    public void Parsing_ignores_letter_case_and_rejects_what_is_not_supported()
    {
        Assert.IsTrue(WireNames.TryParse<DistributedType>("multi_cpu", out var type));
        Assert.AreEqual(DistributedType.MultiCpu, type);
        Assert.IsFalse(WireNames.TryParse<MixedPrecision>("fp8", out _));
        CollectionAssert.Contains(WireNames.Unsupported<MixedPrecision>().ToList(), "fp8");
        CollectionAssert.Contains(WireNames.Unsupported<DistributedType>().ToList(), "FSDP");
        CollectionAssert.AreEqual(new[] { "no", "fp16", "bf16" }, WireNames.Names<MixedPrecision>().ToArray());
    }

    [TestMethod]
    public void Configs_are_equal_when_they_write_the_same_file()
    {
        static Dictionary<string, object?> Mpirun(string hostfile) =>
            new() { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = hostfile } };
        var a = new ClusterConfig { DistributedType = DistributedType.MultiCpu, NestedConfigs = Mpirun("/h") };
        var b = new ClusterConfig { DistributedType = DistributedType.MultiCpu, NestedConfigs = Mpirun("/h") };

        Assert.AreEqual(a, b);
        Assert.AreEqual(a.GetHashCode(), b.GetHashCode());
        Assert.AreNotEqual(a, b with { NestedConfigs = Mpirun("/other") });
        Assert.AreNotEqual(a, a with { Debug = false });
    }
}
