namespace Accelerate.Sdk.Tests;

/// <summary>
/// A project that says only <c>Sdk="Accelerate.Sdk"</c> (version from global.json's msbuild-sdks) and
/// reads the launch environment, as a user builds and runs it: the launcher hook of <c>dotnet run</c>,
/// the <c>AccelerateLaunch</c> target, the device hook, and incremental builds.
/// </summary>
[TestClass]
public sealed class LaunchPlumbingTests
{
    private static string _project = "";
    private static (int ExitCode, string Output) _firstBuild;
    private static (int ExitCode, string Output) _secondBuild;
    private static DateTime _betweenBuilds;

    /// <summary>The file the launch checks write when they pass, and only then.</summary>
    private static FileInfo ValidationStamp() =>
        new(Directory.EnumerateFiles(Path.Combine(_project, "obj"), "launch-settings.validated", SearchOption.AllDirectories).Single());

    [ClassInitialize]
    public static void BuildTwice(TestContext _)
    {
        _project = PackageFeed.CreateEnvironmentProbe("Probe", """
                var env = (string name) => Environment.GetEnvironmentVariable(name) ?? "-";
                Console.WriteLine($"probe rank={env("RANK")} world={env("WORLD_SIZE")} master={env("MASTER_ADDR")} args={string.Join(",", args)}");
                Console.WriteLine($"settings rank={env("RANK")} precision={env("ACCELERATE_MIXED_PRECISION")} accumulation={env("ACCELERATE_GRADIENT_ACCUMULATION_STEPS")} function={env("ACCELERATE_MAIN_TRAINING_FUNCTION")} restarts={env("TORCHELASTIC_MAX_RESTARTS")}");
                """);
        _firstBuild = DotNet.Run(_project, "build", "-v:n");
        _betweenBuilds = DateTime.UtcNow;
        _secondBuild = DotNet.Run(_project, "build", "-v:n");
    }

    [TestMethod]
    public void A_project_with_only_the_sdk_line_builds()
    {
        Assert.AreEqual(0, _firstBuild.ExitCode, _firstBuild.Output);
        Assert.IsTrue(File.Exists(Path.Combine(_project, "bin", "Debug", "net10.0", "Probe.dll")), _firstBuild.Output);
        Assert.IsFalse(_firstBuild.Output.Contains("Skipping target \"AccelerateValidateLaunchSettings\"", StringComparison.Ordinal), "the first build runs the launch checks");
        Assert.IsTrue(ValidationStamp().LastWriteTimeUtc < _betweenBuilds, "the launch checks ran and passed in the first build");
    }

    [TestMethod]
    public void An_unchanged_second_build_skips_the_launch_checks()
    {
        Assert.AreEqual(0, _secondBuild.ExitCode, _secondBuild.Output);
        StringAssert.Contains(_secondBuild.Output, "Skipping target \"AccelerateValidateLaunchSettings\" because all output files are up-to-date");
        Assert.IsTrue(ValidationStamp().LastWriteTimeUtc < _betweenBuilds, "the second build did not validate again");
    }

    [TestMethod]
    public void dotnet_run_with_nothing_set_runs_the_program_directly()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "--", "a");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "probe rank=- world=- master=- args=a");
        Assert.IsFalse(output.Contains("[rank", StringComparison.Ordinal), output);
    }

    [TestMethod]
    public void dotnet_run_with_NumProcesses_starts_every_rank_through_the_launcher()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "-p:NumProcesses=2", "--", "first", "second");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "[rank 0] probe rank=0 world=2 master=127.0.0.1 args=first,second");
        StringAssert.Contains(output, "[rank 1] probe rank=1 world=2 master=127.0.0.1 args=first,second");
    }

    [TestMethod]
    public void Each_launch_property_reaches_the_ranks_through_its_launcher_flag()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "-p:NumProcesses=2", "-p:MixedPrecision=bf16", "-p:GradientAccumulationSteps=4",
            "-p:MainTrainingFunction=pretrain", "-p:MaxRestarts=1", "-p:UseCpu=true", "-p:MainProcessPort=0");

        Assert.AreEqual(0, exitCode, output);
        foreach (var rank in new[] { 0, 1 })
            StringAssert.Contains(output, $"[rank {rank}] settings rank={rank} precision=bf16 accumulation=4 function=pretrain restarts=1");
    }

    [TestMethod]
    public void MSBuild_properties_override_the_config_file_which_overrides_the_defaults()
    {
        File.WriteAllText(Path.Combine(_project, "three.yaml"), """
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            num_processes: 3
            mixed_precision: fp16
            use_cpu: true
            """);

        var fromFile = DotNet.Run(_project, "run", "-p:AccelerateConfig=three.yaml");
        var overridden = DotNet.Run(_project, "run", "-p:AccelerateConfig=three.yaml", "-p:NumProcesses=2");

        Assert.AreEqual(0, fromFile.ExitCode, fromFile.Output);
        StringAssert.Contains(fromFile.Output, "[rank 2] probe rank=2 world=3");
        StringAssert.Contains(fromFile.Output, "[rank 0] settings rank=0 precision=fp16");
        Assert.AreEqual(0, overridden.ExitCode, overridden.Output);
        StringAssert.Contains(overridden.Output, "[rank 1] probe rank=1 world=2");
        Assert.IsFalse(overridden.Output.Contains("[rank 2]", StringComparison.Ordinal), overridden.Output);
        StringAssert.Contains(overridden.Output, "[rank 1] settings rank=1 precision=fp16", "what the property does not set still comes from the file");
    }

    [TestMethod]
    public void The_AccelerateLaunch_target_builds_and_launches()
    {
        var (exitCode, output) = DotNet.Run(_project, "build", "-t:AccelerateLaunch", "-p:NumProcesses=2", "-p:AccelerateProgramArguments=from-msbuild");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "[rank 0] probe rank=0 world=2 master=127.0.0.1 args=from-msbuild");
        StringAssert.Contains(output, "[rank 1] probe rank=1 world=2 master=127.0.0.1 args=from-msbuild");
    }

    [TestMethod]
    public void dotnet_run_lists_the_cpu_as_a_device_when_asked_to_offer_devices()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "--list-devices", "-p:AccelerateDevices=true");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "cpu - CPU");
    }

    [TestMethod]
    public void dotnet_run_refuses_a_device_this_machine_does_not_have()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "--device", "cuda:9");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, "error ACC1111: Device 'cuda:9' is not available on this machine; the devices are: cpu");
    }

    [TestMethod]
    public void A_bad_value_on_the_command_line_fails_the_build_with_its_code_and_the_fix()
    {
        var (exitCode, output) = DotNet.Run(_project, "build", "-p:NumProcesses=two");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, "error ACC1100: NumProcesses is 'two' (set with -p:NumProcesses=two), but it must be a whole number, 1 or more. Set NumProcesses to a number such as 2");
    }

    [TestMethod]
    public void A_missing_config_file_fails_the_build()
    {
        var (exitCode, output) = DotNet.Run(_project, "build", "-p:AccelerateConfig=missing.yaml");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, $"error ACC1120: AccelerateConfig names the config file '{Path.Combine(_project, "missing.yaml")}'");
    }

    [TestMethod]
    public void A_config_value_that_conflicts_with_a_property_is_reported_at_its_line()
    {
        File.WriteAllText(Path.Combine(_project, "two-machines.yaml"), """
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            num_machines: 2
            machine_rank: 0
            main_process_ip: 10.0.0.1
            num_processes: 4
            """);

        // The property overrides the file's machine_rank, and the file's 2 machines have ranks 0 and 1.
        var (exitCode, output) = DotNet.Run(_project, "build", "-p:AccelerateConfig=two-machines.yaml", "-p:MachineRank=2");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, "error ACC1132: MachineRank is 2 (set with -p:MachineRank=2) but there are 2 machines; machine ranks go from 0 to 1.");
    }

    [TestMethod]
    public void A_malformed_config_file_fails_the_build_at_the_line_the_config_reader_names()
    {
        File.WriteAllText(Path.Combine(_project, "broken.yaml"), "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_CPU\nnum_processes: [2\n");

        var (exitCode, output) = DotNet.Run(_project, "build", "-p:AccelerateConfig=broken.yaml");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, $"{Path.Combine(_project, "broken.yaml")}(");
        StringAssert.Contains(output, "error ACC1121: The accelerate config file is not valid: ");
    }

    [TestMethod]
    public void A_bad_value_in_the_project_file_is_reported_at_its_line()
    {
        var project = PackageFeed.CreateProject("BadSettings",
            ("BadSettings.csproj", """
                <Project Sdk="Accelerate.Sdk">
                  <PropertyGroup>
                    <AccelerateReferencesRuntime>false</AccelerateReferencesRuntime>
                    <MixedPrecision>fp32</MixedPrecision>
                  </PropertyGroup>
                </Project>
                """),
            ("Program.cs", "Console.WriteLine();"));

        var (exitCode, output) = DotNet.Run(project, "build");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, $"{Path.Combine(project, "BadSettings.csproj")}(4): error ACC1105: MixedPrecision is 'fp32' (set in BadSettings.csproj), but it must be one of no, fp16, bf16.");
    }

    [TestMethod]
    public void A_missing_launcher_is_ACC1112()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "--no-build", "-p:NumProcesses=2", "-p:AccelerateLauncherPath=/nowhere/accelerate.dll");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, "error ACC1112: The launcher '/nowhere/accelerate.dll' does not exist.");
    }

    [TestMethod]
    public void Requiring_the_native_launcher_from_a_package_without_one_is_ACC1160()
    {
        // This suite's feed packs Accelerate.Sdk without the native launcher (NativeLauncherTests builds it): accelerate.dll launches.
        var (exitCode, output) = DotNet.Run(_project, "run", "-p:NumProcesses=2", "-p:AccelerateNativeLauncher=true");

        Assert.AreNotEqual(0, exitCode, output);
        StringAssert.Contains(output, "error ACC1160: AccelerateNativeLauncher is true, but this Accelerate.Sdk has no native launcher for ");
        Assert.IsFalse(output.Contains("[rank 0]", StringComparison.Ordinal), output);
    }

    [TestMethod]
    [DataRow(null, "cpu")]
    [DataRow("cuda-12.8", "cuda-12.8")]
    public void AccelerateLibTorch_selects_the_native_package_for_this_machine(string? variant, string expected)
    {
        var os = OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "osx" : "win";
        var rid = $"{os}-{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
        string[] arguments = variant is null
            ? ["msbuild", "-getProperty:AccelerateLibTorchPackage"]
            : ["msbuild", "-getProperty:AccelerateLibTorchPackage", $"-p:AccelerateLibTorch={variant}"];

        var (exitCode, output) = DotNet.Run(_project, arguments);

        Assert.AreEqual(0, exitCode, output);
        Assert.AreEqual($"libtorch-{expected}-{rid}", output.Trim());
    }
}
