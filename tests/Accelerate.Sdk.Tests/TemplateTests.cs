namespace Accelerate.Sdk.Tests;

/// <summary><c>dotnet new accelerate-train</c> from the packed template, installed into a private template hive.</summary>
[TestClass]
public sealed class TemplateTests
{
    [TestMethod]
    public void The_template_creates_a_project_that_trains_in_one_process_and_on_two()
    {
        var hive = Path.Combine(PackageFeed.Workspace, "template-hive");
        var package = Path.Combine(PackageFeed.FeedDirectory, $"Accelerate.Templates.{PackageFeed.Version}.nupkg");

        var install = DotNet.Run(PackageFeed.Workspace, "new", "install", package, "--debug:custom-hive", hive);
        Assert.AreEqual(0, install.ExitCode, install.Output);
        var create = DotNet.Run(PackageFeed.Workspace, "new", "accelerate-train", "-n", "FromTemplate", "--debug:custom-hive", hive);
        Assert.AreEqual(0, create.ExitCode, create.Output);

        var project = Path.Combine(PackageFeed.Workspace, "FromTemplate");
        StringAssert.Contains(File.ReadAllText(Path.Combine(project, "FromTemplate.csproj")), $"Sdk=\"Accelerate.Sdk/{PackageFeed.Version}\"");
        var (exitCode, output) = DotNet.Run(project, "run");

        Assert.AreEqual(0, exitCode, output);
        var weight = System.Text.RegularExpressions.Regex.Match(output, @"process 0/1: weight (-?[0-9.]+)");
        Assert.IsTrue(weight.Success, output);
        Assert.AreEqual(2.0, double.Parse(weight.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0.05, "the line y = 2x + 1 was learned");

        var launched = DotNet.Run(project, "run", "--no-build", "-p:NumProcesses=2");
        Assert.AreEqual(0, launched.ExitCode, launched.Output);
        var results = System.Text.RegularExpressions.Regex.Matches(launched.Output, @"\[rank (\d)\] process \1/2: (weight .*)");
        Assert.AreEqual(2, results.Count, launched.Output);
        Assert.AreEqual(results[0].Groups[2].Value.Trim(), results[1].Groups[2].Value.Trim(), "both processes learned the same line");
    }
}
