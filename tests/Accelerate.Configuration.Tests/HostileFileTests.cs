using System.Diagnostics;
using System.Text;

namespace Accelerate.Configuration.Tests;

/// <summary>Config files written to hurt the reader: alias bombs, deep nesting, huge files. Each is refused by code, quickly.</summary>
[TestClass]
public sealed class HostileFileTests
{
    /// <summary>A YAML alias bomb under <c>fsdp_config:</c>: <paramref name="levels"/> levels of nine references to the level below.</summary>
    private static string AliasBomb(int levels)
    {
        var text = new StringBuilder("distributed_type: NO\nfsdp_config:\n  l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
        for (var level = 1; level < levels; level++)
            text.Append($"  l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
        return text.ToString();
    }

    private static ConfigFileException LoadFails(string name, string text) => ConfigErrorTests.LoadFails(name, text);

    [TestMethod]
    public void Nested_aliases_that_would_expand_to_half_a_million_values_are_refused_as_ACC2409()
    {
        var error = LoadFails("bomb.yaml", AliasBomb(6));

        Assert.AreEqual(ConfigErrorCode.AliasExpansion, error.Code);
        StringAssert.Contains(error.Message, "error ACC2409");
        StringAssert.Contains(error.Message, "aliases");
    }

    [TestMethod]
    public void A_400_byte_alias_bomb_is_refused_in_well_under_a_second_of_work_and_without_gigabytes_of_memory()
    {
        var text = AliasBomb(9);
        Assert.IsLessThan(600, text.Length, "the bomb is a tiny file");
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();

        var error = Assert.ThrowsExactly<ConfigFileException>(() => ConfigFile.Parse(text, ConfigFormat.Yaml, "bomb.yaml"));

        Assert.AreEqual(ConfigErrorCode.AliasExpansion, error.Code);
        Assert.IsLessThan(64L << 20, GC.GetTotalAllocatedBytes(precise: true) - before, "bytes allocated while reading");
        Assert.IsLessThan(TimeSpan.FromSeconds(20), clock.Elapsed);
    }

    [TestMethod]
    public void More_than_a_hundred_alias_references_are_refused_as_ACC2409()
    {
        var text = "distributed_type: NO\nfsdp_config:\n  a: &a x\n  b: [" + string.Join(", ", Enumerable.Repeat("*a", 101)) + "]\n";

        var error = LoadFails("many.yaml", text);

        Assert.AreEqual(ConfigErrorCode.AliasExpansion, error.Code);
        Assert.AreEqual(4, error.Errors[0].Line, "the position of the first reference over the limit");
    }

    [TestMethod]
    public void A_long_anchored_text_repeated_by_aliases_is_refused_as_ACC2409()
    {
        var text = "distributed_type: NO\nfsdp_config:\n  a: &a " + new string('x', 100_000) + "\n  b: [" + string.Join(", ", Enumerable.Repeat("*a", 20)) + "]\n";

        var error = LoadFails("long.yaml", text);

        Assert.AreEqual(ConfigErrorCode.AliasExpansion, error.Code);
    }

    [TestMethod]
    public void A_few_aliases_as_people_use_them_still_read()
    {
        var config = ConfigFile.Parse("distributed_type: NO\nfsdp_config: &shared\n  fsdp_offload_params: false\nmegatron_lm_config: *shared\n", ConfigFormat.Yaml);

        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.AreEqual(false, ((IReadOnlyDictionary<string, object?>)config.NestedConfigs["megatron_lm_config"]!)["fsdp_offload_params"]);
    }

    [TestMethod]
    [DataRow(200)]
    [DataRow(100_000)]
    public void YAML_nested_deeper_than_64_levels_is_refused_as_ACC2410(int depth)
    {
        var text = "distributed_type: NO\nfsdp_config:\n  deep: " + new string('[', depth) + new string(']', depth) + "\n";

        var error = LoadFails("deep.yaml", text);

        Assert.AreEqual(ConfigErrorCode.NestingDepth, error.Code);
        StringAssert.Contains(error.Message, "64");
    }

    [TestMethod]
    [DataRow(200)]
    [DataRow(100_000)]
    public void JSON_nested_deeper_than_64_levels_is_refused_as_ACC2410(int depth)
    {
        var text = "{\"distributed_type\": \"NO\", \"fsdp_config\": {\"deep\": " + new string('[', depth) + new string(']', depth) + "}}";

        var error = LoadFails("deep.json", text);

        Assert.AreEqual(ConfigErrorCode.NestingDepth, error.Code);
    }

    [TestMethod]
    public void A_file_larger_than_1_MiB_is_refused_as_ACC2411_before_it_is_read()
    {
        var text = "distributed_type: NO\n" + new string('#', (1 << 20) + 1) + "\n";

        var error = LoadFails("huge.yaml", text);

        Assert.AreEqual(ConfigErrorCode.FileTooLarge, error.Code);
        StringAssert.Contains(error.Message, "1 MiB");
    }
}
