using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Accelerate.Configuration.Tests;

/// <summary>
/// HF accelerate reads config files with PyYAML's <c>safe_load</c> and writes them with <c>safe_dump</c>. These tests run
/// the real PyYAML (Debian's python3-yaml) on files we write, and read files it writes.
/// </summary>
[TestClass]
public sealed class PyYamlCompatibilityTests
{
    public static IEnumerable<object[]> AllFixtures => Fixtures.All;

    private static string Python(string script, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        Process python;
        try { python = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception) { Assert.Inconclusive("python3 is not installed (eng/install-prerequisites.sh installs python3-yaml)."); throw; }
        using (python)
        {
            var output = python.StandardOutput.ReadToEndAsync();
            var error = python.StandardError.ReadToEndAsync();
            if (!python.WaitForExit(TimeSpan.FromSeconds(60))) { python.Kill(entireProcessTree: true); Assert.Fail("python3 did not finish"); }
            if (error.Result.Contains("No module named 'yaml'")) Assert.Inconclusive("PyYAML is not installed (eng/install-prerequisites.sh installs python3-yaml).");
            Assert.AreEqual(0, python.ExitCode, error.Result);
            return output.Result;
        }
    }

    [TestMethod]
    [DynamicData(nameof(AllFixtures))]
    public void PyYAML_reads_the_yaml_we_write_to_the_values_we_meant(string fixture)
    {
        using var folder = new TemporaryFolder();
        var config = ConfigFile.Load(Fixtures.Path(fixture));
        var path = folder.File("written.yaml");
        ConfigFile.Save(config, path);

        var asPythonSees = Python("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))", path);

        var expected = JsonNode.Parse(ConfigFile.Serialize(config, ConfigFormat.Json));
        Assert.IsTrue(JsonNode.DeepEquals(expected, JsonNode.Parse(asPythonSees)),
            $"PyYAML read\n{asPythonSees}\nbut we wrote\n{File.ReadAllText(path)}");
    }

    [TestMethod]
    public void Strings_that_look_like_other_types_stay_strings_in_PyYAML()
    {
        using var folder = new TemporaryFolder();
        string[] tricky = ["NO", "no", "y", "on", "null", "~", "", "0", "1.5", ".5", "1e3", "+1", "1_000", "0o17", "0x1F", "12:30", "2024-01-01", "a: b", "- x", "#c", ".inf"];
        var config = new ClusterConfig
        {
            DistributedType = DistributedType.No,
            NestedConfigs = new Dictionary<string, object?> { ["fsdp_config"] = tricky.Select((t, i) => (t, i)).ToDictionary(e => $"k{e.i}", e => (object?)e.t) },
        };
        var path = folder.File("tricky.yaml");
        ConfigFile.Save(config, path);

        var asPythonSees = JsonNode.Parse(Python("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", path))!;

        for (var i = 0; i < tricky.Length; i++)
            Assert.AreEqual(tricky[i], asPythonSees["fsdp_config"]![$"k{i}"]!.GetValue<string>(), $"'{tricky[i]}' written as:\n{File.ReadAllText(path)}");
    }

    [TestMethod]
    [DynamicData(nameof(AllFixtures))]
    public void We_read_what_PyYAML_safe_dump_writes(string fixture)
    {
        using var folder = new TemporaryFolder();
        var dumped = folder.File("dumped.yaml");
        Python("import sys, yaml; d = yaml.safe_load(open(sys.argv[1])) if not sys.argv[1].endswith('.json') else __import__('json').load(open(sys.argv[1])); "
               + "yaml.safe_dump(d, open(sys.argv[2], 'w'))", Fixtures.Path(fixture), dumped);

        Assert.AreEqual(ConfigFile.Load(Fixtures.Path(fixture)), ConfigFile.Load(dumped));
    }
}
