using System.Text.Json;
using Accelerate.Configuration.Launch;

namespace Accelerate.Sdk.Tests;

/// <summary>
/// What a project that says <c>Sdk="Accelerate.Sdk"</c> gets, read by evaluating it (<c>dotnet msbuild -getProperty</c>),
/// without building: fast checks of the properties the SDK sets, beside the end-to-end builds of <see cref="LaunchPlumbingTests"/>.
/// </summary>
[TestClass]
public sealed class SdkPropertiesTests
{
    private static JsonElement _defaults;
    private static JsonElement _customized;

    private static readonly string[] Read =
    [
        "UsingAccelerateSdk", "OutputType", "TargetFramework", "ImplicitUsings", "Nullable", "AccelerateLibTorch",
        "CreateHardLinksForCopyLocalIfPossible", "AccelerateSdkFromSource", "AccelerateTasksFactory", "AccelerateTasksAssembly",
        "AccelerateLauncherPath", "BeforeProps", "AfterProps", "BeforeTargets", "AfterTargets", "SeenBySdkProps", "SeenBySdkTargets",
    ];

    [ClassInitialize]
    public static void Evaluate(TestContext _)
    {
        var plain = PackageFeed.CreateProject("Evaluated", ("Evaluated.csproj", """<Project Sdk="Accelerate.Sdk" />"""));
        // Restored first: the tasks assembly is known once the Accelerate.Build.Tasks package is.
        var (restored, restoreOutput) = DotNet.Run(plain, "restore", "-nologo");
        Assert.AreEqual(0, restored, restoreOutput);
        _defaults = Evaluation(plain);

        // The extension points, each file setting a property from what is known at its place. The first one is imported
        // before Directory.Build.props (as in Microsoft.Build.NoTargets), so it comes from the command line.
        var customized = PackageFeed.CreateProject("Customized",
            ("Customized.csproj", """
                <Project Sdk="Accelerate.Sdk">
                  <PropertyGroup>
                    <Nullable>disable</Nullable>
                    <AccelerateLibTorch>cuda-12.8</AccelerateLibTorch>
                  </PropertyGroup>
                </Project>
                """),
            ("Directory.Build.props", """
                <Project>
                  <PropertyGroup>
                    <CustomAfterAccelerateSdkProps>$(MSBuildThisFileDirectory)after.props</CustomAfterAccelerateSdkProps>
                    <CustomBeforeAccelerateSdkTargets>$(MSBuildThisFileDirectory)before.targets</CustomBeforeAccelerateSdkTargets>
                    <CustomAfterAccelerateSdkTargets>$(MSBuildThisFileDirectory)after.targets</CustomAfterAccelerateSdkTargets>
                  </PropertyGroup>
                </Project>
                """),
            ("before.props", """<Project><PropertyGroup><BeforeProps>$(UsingAccelerateSdk)</BeforeProps></PropertyGroup></Project>"""),
            ("after.props", """<Project><PropertyGroup><AfterProps>$(OutputType)</AfterProps></PropertyGroup></Project>"""),
            ("before.targets", """<Project><PropertyGroup><BeforeTargets>$(Nullable)</BeforeTargets></PropertyGroup></Project>"""),
            ("after.targets", """<Project><PropertyGroup><AfterTargets>$(AccelerateLibTorchPackage)</AfterTargets></PropertyGroup></Project>"""));
        _customized = Evaluation(customized, $"-p:CustomBeforeAccelerateSdkProps={Path.Combine(customized, "before.props")}");
    }

    private static JsonElement Evaluation(string project, params string[] properties)
    {
        var (exitCode, output) = DotNet.Run(project, ["msbuild", "-nologo", $"-getProperty:{string.Join(',', Read)}", "-getItem:_AccelerateLaunchProperty", .. properties]);
        Assert.AreEqual(0, exitCode, output);
        return JsonDocument.Parse(output[output.IndexOf('{')..]).RootElement.Clone();
    }

    private static string Property(JsonElement evaluation, string name) => evaluation.GetProperty("Properties").GetProperty(name).GetString()!;

    [TestMethod]
    [DataRow("UsingAccelerateSdk", "true")]
    [DataRow("OutputType", "Exe")]
    [DataRow("TargetFramework", "net10.0")]
    [DataRow("ImplicitUsings", "enable")]
    [DataRow("Nullable", "enable")]
    [DataRow("AccelerateLibTorch", "cpu")]
    [DataRow("CreateHardLinksForCopyLocalIfPossible", "true")]
    [DataRow("AccelerateSdkFromSource", "false")]
    [DataRow("AccelerateTasksFactory", "AssemblyTaskFactory")]
    public void The_sdk_sets_these_properties(string name, string expected)
        => Assert.AreEqual(expected, Property(_defaults, name), name);

    [TestMethod]
    public void The_tasks_come_from_their_package_and_the_launcher_from_the_sdk_package()
    {
        var version = PackageFeed.Version.ToLowerInvariant();
        StringAssert.EndsWith(Property(_defaults, "AccelerateTasksAssembly").Replace('\\', '/'), "/tasks/net10.0/Accelerate.Build.Tasks.dll");
        StringAssert.Contains(Property(_defaults, "AccelerateTasksAssembly"), Path.Combine("accelerate.build.tasks", version));
        Assert.IsTrue(File.Exists(Property(_defaults, "AccelerateTasksAssembly")), Property(_defaults, "AccelerateTasksAssembly"));
        var package = Path.Combine("accelerate.sdk", version);
        StringAssert.EndsWith(Property(_defaults, "AccelerateLauncherPath").Replace('\\', '/'), "/tools/launcher/accelerate.dll");
        StringAssert.Contains(Property(_defaults, "AccelerateLauncherPath"), package);
    }

    [TestMethod]
    public void A_value_the_project_sets_wins_over_the_sdk_default()
    {
        Assert.AreEqual("disable", Property(_customized, "Nullable"));
        Assert.AreEqual("cuda-12.8", Property(_customized, "AccelerateLibTorch"));
    }

    [TestMethod]
    public void The_custom_before_and_after_files_are_imported_around_the_sdk()
    {
        Assert.AreEqual("true", Property(_customized, "BeforeProps"), "CustomBeforeAccelerateSdkProps sees UsingAccelerateSdk");
        Assert.AreEqual("Exe", Property(_customized, "AfterProps"), "CustomAfterAccelerateSdkProps sees the SDK's props");
        Assert.AreEqual("disable", Property(_customized, "BeforeTargets"), "CustomBeforeAccelerateSdkTargets sees the project body");
        StringAssert.StartsWith(Property(_customized, "AfterTargets"), "libtorch-cuda-12.8-", "CustomAfterAccelerateSdkTargets sees the SDK's targets");
    }

    [TestMethod]
    public void Every_launch_property_of_the_settings_table_reaches_the_launch_tasks()
    {
        var items = _defaults.GetProperty("Items").GetProperty("_AccelerateLaunchProperty").EnumerateArray()
            .Select(i => (Name: i.GetProperty("Identity").GetString()!, StartsLauncher: i.TryGetProperty("StartsLauncher", out var s) ? s.GetString()! : ""))
            .ToList();
        var expected = LaunchSettings.Properties.Select(s => (Name: s.Property!, StartsLauncher: s.StartsLauncher ? "" : "false"))
            .Append((Name: "Device", StartsLauncher: "false")).ToList();

        var missing = expected.Except(items).Select(e => $"<_AccelerateLaunchProperty Include=\"{e.Name}\" Value=\"$({e.Name})\"{(e.StartsLauncher == "false" ? " StartsLauncher=\"false\"" : "")} />").ToList();
        var extra = items.Except(expected).Select(e => e.Name).ToList();
        Assert.IsTrue(missing.Count == 0 && extra.Count == 0,
            $"Accelerate.Launch.targets' launch properties disagree with LaunchSettings. Add: {string.Join(' ', missing)}; remove: [{string.Join(", ", extra)}].");
    }
}
