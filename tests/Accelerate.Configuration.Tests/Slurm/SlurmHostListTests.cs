using Accelerate.Configuration.Slurm;

namespace Accelerate.Configuration.Tests.Slurm;

/// <summary>SLURM's compressed host lists, as Slurm 22.05's <c>scontrol show hostnames</c> expands them.</summary>
[TestClass]
public sealed class SlurmHostListTests
{
    [TestMethod]
    [DataRow("node1", "node1")]
    [DataRow("node[01-04,07]", "node01 node02 node03 node04 node07")]
    [DataRow("n[01-03,07],gpu[1-2]", "n01 n02 n03 n07 gpu1 gpu2")]
    [DataRow("n1.cluster.example.com,n2.cluster.example.com", "n1.cluster.example.com n2.cluster.example.com")]
    [DataRow("n1.x[1-2]", "n1.x1 n1.x2")]
    [DataRow("[1-2]", "1 2")]
    [DataRow("n[2]", "n2")]
    [DataRow("n[007]", "n007")]
    public void Bracket_groups_expand_to_every_host_in_order(string list, string hosts) =>
        CollectionAssert.AreEqual(hosts.Split(' '), SlurmHostList.Expand(list).ToList());

    [TestMethod]
    [DataRow("n[01-3]", "n01 n02 n03")]
    [DataRow("n[00-2]", "n00 n01 n02")]
    [DataRow("n[001-10]", "n001 n002 n003 n004 n005 n006 n007 n008 n009 n010")]
    [DataRow("n[1-03]", "n1 n2 n3")]
    [DataRow("n[8-010]", "n8 n9 n10")]
    [DataRow("n[9-11]", "n9 n10 n11")]
    [DataRow("n[98-100]", "n98 n99 n100")]
    [DataRow("n[08-10]", "n08 n09 n10")]
    public void Zero_padding_takes_the_width_of_the_low_bound_as_written(string list, string hosts) =>
        CollectionAssert.AreEqual(hosts.Split(' '), SlurmHostList.Expand(list).ToList());

    [TestMethod]
    [DataRow("rack[0-1]_blade[0-2]", "rack0_blade0 rack0_blade1 rack0_blade2 rack1_blade0 rack1_blade1 rack1_blade2")]
    [DataRow("n[1-2]-[3-4]", "n1-3 n1-4 n2-3 n2-4")]
    public void Several_groups_in_one_name_multiply_with_the_leftmost_slowest(string list, string hosts) =>
        CollectionAssert.AreEqual(hosts.Split(' '), SlurmHostList.Expand(list).ToList());

    [TestMethod]
    [DataRow("n[1-2] m[3]", "n1 n2 m3")]
    [DataRow("n[1-2],", "n1 n2")]
    [DataRow("a,,b", "a b")]
    [DataRow(",,a", "a")]
    [DataRow("n[1-3,2]", "n1 n2 n3 n2")]
    [DataRow("n3,n1,n1", "n3 n1 n1")]
    public void Items_split_on_commas_and_whitespace_keeping_order_and_duplicates(string list, string hosts) =>
        CollectionAssert.AreEqual(hosts.Split(' '), SlurmHostList.Expand(list).ToList());

    [TestMethod]
    [DataRow("")]
    [DataRow(" ")]
    [DataRow(",")]
    public void An_empty_list_has_no_hosts_and_no_first_host(string list)
    {
        Assert.IsEmpty(SlurmHostList.Expand(list));
        Assert.IsNull(SlurmHostList.First(list));
    }

    [TestMethod]
    [DataRow("gpu[1-2]-a", "text after the last bracket")]
    [DataRow("x[1-3]y", "text after the last bracket")]
    [DataRow("n[1-2].example.com", "text after the last bracket")]
    [DataRow("n[3-1]", "runs backwards")]
    [DataRow("n[]", "is not a number")]
    [DataRow("a[1-2,b]", "'b'")]
    [DataRow("n[1,,2]", "is not a number")]
    [DataRow("n[1-2,]", "is not a number")]
    [DataRow("n[-1]", "is not a number")]
    [DataRow("n[1-]", "is not a number")]
    [DataRow("n[1--2]", "is not a number")]
    [DataRow("n[1-3", "never closed")]
    [DataRow("n]", "without a matching")]
    [DataRow("n[1-2]]", "without a matching")]
    [DataRow("n[[1-2]", "nested")]
    [DataRow("n[ 1-2]", "without spaces")]
    [DataRow("n[0-65536]", "more than 65536 hosts")]
    public void Invalid_forms_are_rejected_naming_the_item_and_the_rule(string list, string rule)
    {
        var error = Assert.ThrowsExactly<FormatException>(() => SlurmHostList.Expand(list));

        StringAssert.Contains(error.Message, rule);
        StringAssert.Contains(error.Message, "name[N-M,K]");
    }

    [TestMethod]
    public void A_list_that_would_expand_past_the_limit_is_rejected_before_expanding()
    {
        var error = Assert.ThrowsExactly<FormatException>(() => SlurmHostList.Expand("a[0-65535]b[0-65535]"));

        StringAssert.Contains(error.Message, "more than 1048576 hosts");
    }

    [TestMethod]
    public void The_first_host_keeps_its_padding()
    {
        Assert.AreEqual("gpu007", SlurmHostList.First("gpu[007-008,12],cpu1"));
    }

    [TestMethod]
    public void The_first_host_is_only_given_for_a_list_that_is_valid_throughout()
    {
        Assert.ThrowsExactly<FormatException>(() => SlurmHostList.First("n[1-2],gpu[1-2]-a"));
    }
}
