namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class OnProcessTests
{
    [TestMethod]
    public void In_a_single_process_every_runner_runs_whatever_rank_it_names_as_in_hf()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });
        var ran = new List<string>();

        accelerator.OnMainProcess(() => ran.Add("main"));
        accelerator.OnLocalMainProcess(() => ran.Add("local main"));
        accelerator.OnLastProcess(() => ran.Add("last"));
        accelerator.OnProcess(3, () => ran.Add("process 3"));
        accelerator.OnLocalProcess(2, () => ran.Add("local process 2"));

        CollectionAssert.AreEqual(new[] { "main", "local main", "last", "process 3", "local process 2" }, ran);
        Assert.AreEqual(42, accelerator.OnProcess(5, () => 42));
        Assert.AreEqual("saved", accelerator.OnMainProcess(() => "saved"));
    }

    [TestMethod]
    public void A_single_process_is_distributed_type_no()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });

        Assert.AreEqual(DistributedType.No, accelerator.DistributedType);
    }
}
