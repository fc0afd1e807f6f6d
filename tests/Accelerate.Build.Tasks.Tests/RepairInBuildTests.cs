using Accelerate.Build.Native;
using Accelerate.Build.Tasks;

namespace Accelerate.Build.Tests;

/// <summary>
/// The repair as a user's build sees it: a console project that references TorchSharp and imports
/// the runtime's build targets, built twice and run.
/// </summary>
[TestClass]
public sealed class RepairInBuildTests
{
    private static string _project = "";
    private static (int ExitCode, string Output) _firstBuild;
    private static (int ExitCode, string Output) _secondBuild;

    [ClassInitialize]
    public static void BuildTwice(TestContext _)
    {
        _project = Directory.CreateTempSubdirectory("accelerate-consumer-").FullName;
        File.WriteAllText(Path.Combine(_project, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <CreateHardLinksForCopyLocalIfPossible>true</CreateHardLinksForCopyLocalIfPossible>
                <AccelerateTasksAssembly>{typeof(RepairLibTorchSharp).Assembly.Location}</AccelerateTasksAssembly>
                <AccelerateTasksFactory>TaskHostFactory</AccelerateTasksFactory>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="TorchSharp" Version="0.107.0" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
              </ItemGroup>
              <Import Project="{Path.Combine(TestPaths.RepoRoot, "src", "Accelerate.Runtime", "buildTransitive", "Accelerate.Runtime.targets")}" />
            </Project>
            """);
        File.WriteAllText(Path.Combine(_project, "Program.cs"), """
            using TorchSharp;
            var a = torch.ones(64, 64);
            Console.WriteLine($"sum={a.matmul(a).sum().item<float>()}");
            """);
        _firstBuild = DotNet.Run(_project, "build", "-v:n", "-nologo");
        _secondBuild = DotNet.Run(_project, "build", "-v:n", "-nologo");
    }

    [ClassCleanup]
    public static void DeleteProject() => Directory.Delete(_project, recursive: true);

    private static bool SystemLacksMarkerVersion =>
        !Readelf.DefinedVersions(Readelf.LoaderCachePath("libstdc++.so.6")).Contains("GLIBCXX_3.4.32");

    private static string BuiltLibrary =>
        Path.Combine(_project, "bin", "Debug", "net10.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [TestMethod]
    public void The_first_build_repairs_when_the_system_lacks_the_version()
    {
        Assert.AreEqual(0, _firstBuild.ExitCode, _firstBuild.Output);
        Assert.AreEqual(SystemLacksMarkerVersion, _firstBuild.Output.Contains("Repaired a copy of libLibTorchSharp.so"), _firstBuild.Output);
        Assert.AreEqual(SystemLacksMarkerVersion,
            ElfFile.Read(BuiltLibrary).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
    }

    [TestMethod]
    public void An_unchanged_second_build_skips_the_repair()
    {
        Assert.AreEqual(0, _secondBuild.ExitCode, _secondBuild.Output);
        StringAssert.Contains(_secondBuild.Output, "Skipping target \"AccelerateRepairLibTorchSharp\" because all output files are up-to-date");
        Assert.IsFalse(_secondBuild.Output.Contains("Repaired a copy"), _secondBuild.Output);
    }

    [TestMethod]
    public void The_built_program_runs_TorchSharp()
    {
        var (exitCode, output) = DotNet.Run(_project, Path.Combine(_project, "bin", "Debug", "net10.0", "Consumer.dll"));

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "sum=262144");
    }

    [TestMethod]
    public void The_package_file_keeps_its_strong_requirement()
    {
        Assert.IsFalse(ElfFile.Read(TestPaths.PackagedLibTorchSharp).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
    }
}
