namespace Accelerate.Sdk.Tests;

/// <summary>
/// <c>accelerate test</c> the way a user gets it: the Accelerate.Cli .NET tool installed from the feed, and
/// the launcher the Accelerate.Sdk package ships under <c>tools/launcher/</c>. Each builds its test program
/// against the packed Accelerate.Sdk of its own version (NuGet finds it through the workspace's
/// nuget.config, as a user's feeds) and runs it on two processes.
/// </summary>
[TestClass]
public sealed class SelfTestFromPackageTests
{
    [TestMethod]
    public void The_installed_tool_passes_its_test_on_two_processes()
    {
        var tools = Path.Combine(PackageFeed.Workspace, "tools");
        var install = DotNet.Run(PackageFeed.Workspace, "tool", "install", "Accelerate.Cli", "--version", PackageFeed.Version, "--tool-path", tools);
        Assert.AreEqual(0, install.ExitCode, install.Output);

        var (exitCode, output) = Run(Path.Combine(tools, "accelerate"), "tool");

        AssertPassed(exitCode, output);
    }

    [TestMethod]
    public void The_launcher_in_the_sdk_package_passes_its_test_on_two_processes()
    {
        // Restoring a project of the SDK extracts the package, launcher included, as a user's first build does.
        var project = PackageFeed.CreateProject("SdkLauncher", ("SdkLauncher.csproj", $"""<Project Sdk="Accelerate.Sdk/{PackageFeed.Version}" />"""),
            ("Program.cs", "System.Console.WriteLine(\"restored\");"));
        var restore = DotNet.Run(project, "restore");
        Assert.AreEqual(0, restore.ExitCode, restore.Output);
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var launcher = Path.Combine(packages, "accelerate.sdk", PackageFeed.Version.ToLowerInvariant(), "tools", "launcher", "accelerate.dll");
        Assert.IsTrue(File.Exists(launcher), launcher);

        var (exitCode, output) = Run("dotnet", "sdk", launcher);

        AssertPassed(exitCode, output);
    }

    /// <summary>Runs <c>accelerate test --num_processes 2 --cpu</c> with a cache folder of its own inside the workspace.</summary>
    private static (int ExitCode, string Output) Run(string command, string cacheName, params string[] before)
    {
        var cache = Path.Combine(PackageFeed.Workspace, "cache-" + cacheName);
        string[] arguments = [.. before, "test", "--num_processes", "2", "--cpu"];
        return DotNet.RunProgram(command, PackageFeed.Workspace, TimeSpan.FromMinutes(8), new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = cache }, arguments);
    }

    private static void AssertPassed(int exitCode, string output)
    {
        Assert.AreEqual(0, exitCode, output);
        foreach (var check in new[] { "rendezvous", "all_reduce", "all_gather", "broadcast", "reduce_scatter", "barrier", "training" })
            StringAssert.Contains(output, $"[rank 0] check {check}: ok", output);
        StringAssert.Contains(output, "accelerate test: success: this machine is set up right for these launch settings.", output);
    }
}
