using Accelerate.Build.Validation;

namespace Accelerate.Build.Tests;

/// <summary>Every ACC11xx the launch checks report, with the value's source and the fix.</summary>
[TestClass]
public sealed class LaunchSettingsValidatorTests
{
    private static SettingSource CommandLine(string name) => new($"set with -p:{name}");

    private static IReadOnlyList<LaunchDiagnostic> Validate(string? config = null, string? launchArguments = null, params (string Name, string Value)[] properties)
    {
        ConfigFileScalars? scalars = null;
        if (config is not null)
        {
            var path = Path.Combine(Path.GetTempPath(), $"accelerate-validator-{Guid.NewGuid():N}.yaml");
            File.WriteAllText(path, config);
            try { scalars = ConfigFileScalars.Read(path); }
            finally { File.Delete(path); }
        }
        return LaunchSettingsValidator.Validate(properties.ToDictionary(p => p.Name, p => p.Value), CommandLine, scalars, launchArguments);
    }

    private static LaunchDiagnostic Single(IReadOnlyList<LaunchDiagnostic> diagnostics, string code)
    {
        Assert.AreEqual(1, diagnostics.Count, string.Join("\n", diagnostics));
        Assert.AreEqual(code, diagnostics[0].Code, diagnostics[0].Message);
        return diagnostics[0];
    }

    [TestMethod]
    [DataRow("NumProcesses", "0", "ACC1100")]
    [DataRow("NumProcesses", "-2", "ACC1100")]
    [DataRow("NumMachines", "many", "ACC1101")]
    [DataRow("MachineRank", "first", "ACC1102")]
    [DataRow("MainProcessIp", "not a host", "ACC1103")]
    [DataRow("MainProcessPort", "70000", "ACC1104")]
    [DataRow("MixedPrecision", "fp32", "ACC1105")]
    [DataRow("UseCpu", "yes", "ACC1106")]
    [DataRow("MultiGpu", "1", "ACC1106")]
    [DataRow("GpuIds", "0;1", "ACC1107")]
    [DataRow("MaxRestarts", "-1", "ACC1108")]
    [DataRow("GradientAccumulationSteps", "0", "ACC1109")]
    [DataRow("MainTrainingFunction", "two words", "ACC1110")]
    public void A_bad_property_value_is_reported_with_its_code_source_and_fix(string property, string value, string code)
    {
        var diagnostic = Single(Validate(properties: (property, value)), code);

        StringAssert.StartsWith(diagnostic.Message, $"{property} is '{value}' (set with -p:{property}), but it must be ");
        StringAssert.Contains(diagnostic.Message, $"Set {property} to ");
    }

    [TestMethod]
    public void Good_values_pass()
    {
        (string Name, string Value, string Bad, string Code)[] settings =
        [
            ("NumProcesses", "4", "0", "ACC1100"), ("NumMachines", "2", "many", "ACC1101"), ("MachineRank", "1", "first", "ACC1102"),
            ("MainProcessIp", "10.0.0.1", "not a host", "ACC1103"), ("MainProcessPort", "0", "70000", "ACC1104"),
            ("MixedPrecision", "bf16", "fp32", "ACC1105"), ("UseCpu", "True", "yes", "ACC1106"), ("GpuIds", "all", "0;1", "ACC1107"),
            ("MaxRestarts", "3", "-1", "ACC1108"), ("GradientAccumulationSteps", "8", "0", "ACC1109"), ("MainTrainingFunction", "pretrain", "two words", "ACC1110"),
        ];

        var diagnostics = Validate(properties: settings.Select(s => (s.Name, s.Value)).ToArray());

        Assert.AreEqual(0, diagnostics.Count, string.Join("\n", diagnostics));
        // Positive control: each of these properties is checked, so one bad value among the good ones is reported.
        foreach (var bad in settings)
        {
            var withOneBad = Validate(properties: settings.Select(s => (s.Name, s == bad ? s.Bad : s.Value)).ToArray());
            Assert.IsTrue(withOneBad.Any(d => d.Code == bad.Code), $"{bad.Name}={bad.Bad} among good values: {string.Join("\n", withOneBad)}");
        }
    }

    [TestMethod]
    public void fp8_is_refused_with_the_reason()
    {
        StringAssert.Contains(Single(Validate(properties: ("MixedPrecision", "fp8")), "ACC1105").Message, "fp8 is not supported with TorchSharp");
    }

    [TestMethod]
    public void A_bad_value_in_the_config_file_points_at_its_line_and_says_a_property_overrides_it()
    {
        var diagnostic = Single(Validate(config: """
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            mixed_precision: fp4   # not a thing
            """), "ACC1105");

        Assert.AreEqual(3, diagnostic.Line);
        StringAssert.Contains(diagnostic.Message, "MixedPrecision is 'fp4' (mixed_precision in ");
        StringAssert.Contains(diagnostic.Message, "Change mixed_precision in the config file, or override it with the MSBuild property MixedPrecision.");
    }

    [TestMethod]
    public void A_property_overrides_the_config_file()
    {
        Assert.AreEqual("ACC1100", Single(Validate(config: "num_processes: zero\n"), "ACC1100").Code, "the file alone is reported");
        Assert.AreEqual(0, Validate(config: "num_processes: zero\n", properties: ("NumProcesses", "2")).Count);
    }

    [TestMethod]
    public void UseCpu_and_MultiGpu_together_conflict()
    {
        StringAssert.Contains(Single(Validate(properties: [("UseCpu", "true"), ("MultiGpu", "true"), ("NumProcesses", "2")]), "ACC1130").Message, "Set one of them to false.");
    }

    [TestMethod]
    public void MultiGpu_needs_two_processes()
    {
        Single(Validate(properties: [("MultiGpu", "true"), ("NumProcesses", "1")]), "ACC1131");
    }

    [TestMethod]
    public void A_machine_rank_beyond_the_machines_conflicts_even_across_file_and_property()
    {
        var diagnostic = Single(Validate(config: "num_machines: 2\nmain_process_ip: 10.0.0.1\n", properties: ("MachineRank", "2")), "ACC1132");

        StringAssert.Contains(diagnostic.Message, "MachineRank is 2 (set with -p:MachineRank) but there are 2 machines; machine ranks go from 0 to 1.");
    }

    [TestMethod]
    public void Several_machines_need_the_main_process_address()
    {
        var diagnostic = Single(Validate(config: "distributed_type: MULTI_CPU\nnum_machines: 2\n"), "ACC1133");

        Assert.AreEqual(2, diagnostic.Line);
        StringAssert.Contains(diagnostic.Message, "Set MainProcessIp to the address of machine 0");
    }

    [TestMethod]
    public void Processes_must_divide_evenly_over_machines()
    {
        StringAssert.Contains(Single(Validate(properties: [("NumProcesses", "3"), ("NumMachines", "2"), ("MainProcessIp", "host0")]), "ACC1134").Message,
            "Set NumProcesses to a multiple of NumMachines, e.g. 2.");
    }

    [TestMethod]
    public void A_launch_argument_may_not_repeat_a_property()
    {
        StringAssert.Contains(Single(Validate(launchArguments: "--debug --num-processes=4", properties: ("NumProcesses", "2")), "ACC1135").Message,
            "AccelerateLaunchArguments passes --num_processes, which the property NumProcesses");
    }

    [TestMethod]
    public void A_missing_explicit_config_file_is_ACC1120_at_the_project_line_that_names_it()
    {
        var project = Path.Combine(Path.GetTempPath(), $"accelerate-validator-{Guid.NewGuid():N}.csproj");
        File.WriteAllText(project, """
            <Project>
              <PropertyGroup>
                <AccelerateConfig>nowhere.yaml</AccelerateConfig>
              </PropertyGroup>
            </Project>
            """);
        try
        {
            var engine = new RecordingBuildEngine();
            var task = new ValidateLaunchSettings { BuildEngine = engine, ProjectFile = project, ConfigFile = "nowhere.yaml" };

            Assert.IsFalse(task.Execute());
            var error = engine.Errors.Single();
            Assert.AreEqual("ACC1120", error.Code);
            Assert.AreEqual(project, error.File);
            Assert.AreEqual(3, error.LineNumber);
            StringAssert.Contains(error.Message, "Create it with 'accelerate config --config_file ");
        }
        finally
        {
            File.Delete(project);
        }
    }

    [TestMethod]
    public void The_default_config_file_is_read_only_when_launching_and_not_forced_to_CPU()
    {
        var home = Directory.CreateTempSubdirectory("accelerate-hf-home-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(home, "accelerate"));
            File.WriteAllText(Path.Combine(home, "accelerate", "default_config.yaml"), "distributed_type: MULTI_CPU\nnum_processes: none\n");
            bool Run(bool launching, string? useCpu)
            {
                var task = new ValidateLaunchSettings
                {
                    BuildEngine = new RecordingBuildEngine(),
                    ProjectFile = Path.Combine(home, "p.csproj"),
                    UsesLauncher = launching,
                    Properties = useCpu is null ? [] : [Item("UseCpu", useCpu)],
                    GetEnvironmentVariable = name => name == "HF_HOME" ? home : null,
                };
                return task.Execute();
            }

            Assert.IsFalse(Run(launching: true, useCpu: null), "launching reads HF_HOME/accelerate/default_config.yaml");
            Assert.IsTrue(Run(launching: false, useCpu: null), "running directly ignores it");
            Assert.IsTrue(Run(launching: true, useCpu: "true"), "UseCpu skips the default file, as --cpu does");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [TestMethod]
    public void An_alias_bomb_in_the_config_file_is_ACC1121_with_the_readers_code_not_gigabytes_of_memory()
    {
        var folder = Directory.CreateTempSubdirectory("accelerate-bomb-").FullName;
        try
        {
            var bomb = new System.Text.StringBuilder("distributed_type: NO\nfsdp_config:\n  l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
            for (var level = 1; level < 9; level++)
                bomb.Append($"  l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
            var config = Path.Combine(folder, "bomb.yaml");
            File.WriteAllText(config, bomb.ToString());
            var engine = new RecordingBuildEngine();
            var task = new ValidateLaunchSettings { BuildEngine = engine, ProjectFile = Path.Combine(folder, "p.csproj"), ConfigFile = config };
            var before = GC.GetTotalAllocatedBytes(precise: true);

            Assert.IsFalse(task.Execute());

            Assert.IsLessThan(64L << 20, GC.GetTotalAllocatedBytes(precise: true) - before, "bytes allocated while validating");
            var error = engine.Errors.Single();
            Assert.AreEqual("ACC1121", error.Code);
            Assert.AreEqual(config, error.File);
            StringAssert.Contains(error.Message, "ACC2409");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Microsoft.Build.Framework.ITaskItem Item(string name, string value)
    {
        var item = new Microsoft.Build.Utilities.TaskItem(name);
        item.SetMetadata("Value", value);
        return item;
    }
}
