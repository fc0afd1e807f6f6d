namespace Accelerate.Generators.Tests;

/// <summary>
/// The Accelerate.Runtime package brings the generator to a project that references it, once —
/// also when the project gets a second copy from elsewhere (Accelerate.Sdk carries one).
/// </summary>
[TestClass]
public sealed class PackageTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(4);

    [TestMethod]
    public void A_project_referencing_the_runtime_package_gets_one_entry_point_even_beside_another_generator_copy()
    {
        var version = "0.0.0-generator-test." + Guid.NewGuid().ToString("N")[..12];
        var work = Directory.CreateTempSubdirectory("accelerate-package-test-").FullName;
        try
        {
            var feed = Path.Combine(work, "feed");
            // The runtime package depends on the build tasks package.
            LocalPackageFeed.Pack(TestPaths.RepoRoot, TestPaths.Configuration, feed, version,
                "src/Accelerate.Runtime/Accelerate.Runtime.csproj", "src/Accelerate.Build.Tasks/Accelerate.Build.Tasks.csproj");

            var copy = Path.Combine(work, "copy", "Accelerate.Generators.dll");
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(TestPaths.GeneratorAssembly, copy);
            var app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            LocalPackageFeed.WriteNuGetConfig(app, feed);
            File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <AccelerateRepairLibTorch>false</AccelerateRepairLibTorch>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Accelerate.Runtime" Version="{version}" />
                    <Analyzer Include="{copy}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Train.cs"), """
                using Accelerate;

                public static class Train
                {
                    [TrainingFunction]
                    public static int Run(string[] args) => args.Length;
                }
                """);

            Dotnet(app, "build", "-c", "Debug");

            using var program = RunningProgram.StartDotnet(Path.Combine(app, "bin", "Debug", "net10.0", "App.dll"), ["a", "b", "c", "d"]);
            Assert.AreEqual(4, program.WaitForExit(), program.Describe());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            LocalPackageFeed.RemoveFromPackagesFolder(version, "accelerate.runtime", "accelerate.build.tasks");
        }
    }

    private static void Dotnet(string directory, params string[] arguments)
    {
        using var dotnet = RunningProgram.Start("dotnet", [.. arguments, "-nologo"], directory, new Dictionary<string, string?>
        {
            // A child build must not join this run's build nodes.
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["MSBUILDTERMINALLOGGER"] = "false",
            ["DOTNET_NOLOGO"] = "1",
        });
        Assert.AreEqual(0, dotnet.WaitForExit(BuildTimeout), $"dotnet {string.Join(' ', arguments)} failed.\n{dotnet.Describe()}");
    }
}
