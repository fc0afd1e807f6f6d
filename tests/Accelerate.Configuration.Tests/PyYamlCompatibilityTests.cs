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

        // The oracle is Python's own reading of the fixture, with HF's legacy-key upgrades
        // (accelerate.commands.config.config_args.BaseConfig.from_yaml_file) and without the
        // null values and empty mappings HF leaves out when it saves.
        var seen = JsonNode.Parse(Python("""
            import json, sys, yaml
            def load(p): return json.load(open(p)) if p.endswith('.json') else yaml.safe_load(open(p))
            def clean(d): return {k: clean(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None and v != {}}
            meant = load(sys.argv[1])
            if 'mixed_precision' not in meant: meant['mixed_precision'] = 'fp16' if meant.get('fp16') else None
            meant.pop('fp16', None)
            if 'dynamo_backend' in meant:
                backend = meant.pop('dynamo_backend')
                meant['dynamo_config'] = {} if backend == 'NO' else {'dynamo_backend': backend}
            print(json.dumps({'meant': clean(meant), 'read': yaml.safe_load(open(sys.argv[2]))}))
            """, Fixtures.Path(fixture), path))!;

        Assert.IsTrue(JsonNode.DeepEquals(seen["meant"], seen["read"]),
            $"PyYAML read\n{seen["read"]}\nfrom what we wrote\n{File.ReadAllText(path)}\nbut the fixture means\n{seen["meant"]}");
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
