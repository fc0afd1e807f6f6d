using System.Globalization;
using System.Text.RegularExpressions;

namespace Accelerate.Sdk.Tests;

/// <summary><c>dotnet new accelerate-train</c> from the packed template, installed into a private template hive.</summary>
[TestClass]
public sealed class TemplateTests
{
    private static string _project = "";

    [ClassInitialize]
    public static void CreateProjectFromTemplate(TestContext _)
    {
        var hive = Path.Combine(PackageFeed.Workspace, "template-hive");
        var package = Path.Combine(PackageFeed.FeedDirectory, $"Accelerate.Templates.{PackageFeed.Version}.nupkg");

        var install = DotNet.Run(PackageFeed.Workspace, "new", "install", package, "--debug:custom-hive", hive);
        Assert.AreEqual(0, install.ExitCode, install.Output);
        var create = DotNet.Run(PackageFeed.Workspace, "new", "accelerate-train", "-n", "FromTemplate", "--debug:custom-hive", hive);
        Assert.AreEqual(0, create.ExitCode, create.Output);
        _project = Path.Combine(PackageFeed.Workspace, "FromTemplate");
        var build = DotNet.Run(_project, "build");
        Assert.AreEqual(0, build.ExitCode, build.Output);
    }

    [TestMethod]
    public void The_template_creates_a_project_that_trains_in_one_process_and_on_two()
    {
        StringAssert.Contains(File.ReadAllText(Path.Combine(_project, "FromTemplate.csproj")), $"Sdk=\"Accelerate.Sdk/{PackageFeed.Version}\"");
        var (exitCode, output) = DotNet.Run(_project, "run");

        Assert.AreEqual(0, exitCode, output);
        var solo = Regex.Match(output, @"process 0/1: weight (-?[0-9.]+), bias (-?[0-9.]+)");
        Assert.IsTrue(solo.Success, output);
        Assert.AreEqual(2.0, Number(solo.Groups[1]), 0.05, "the line y = 2x + 1 was learned: slope");
        Assert.AreEqual(1.0, Number(solo.Groups[2]), 0.05, "the line y = 2x + 1 was learned: intercept");

        AssertBothProcessesLearnTheLine(DotNet.Run(_project, "run", "--no-build", "-p:NumProcesses=2"), (Number(solo.Groups[1]), Number(solo.Groups[2])), 0.0011);
    }

    [TestMethod]
    [DataRow("bf16")]
    [DataRow("fp16")]
    public void The_template_trains_on_two_processes_under_mixed_precision_unchanged(string precision)
    {
        AssertBothProcessesLearnTheLine(DotNet.Run(_project, "run", "--no-build", "-p:NumProcesses=2", "-p:MixedPrecision=" + precision), (2.0, 1.0), 0.05);
    }

    /// <param name="expected">Slope and intercept to end at: one process's result over all the points, or the line itself.</param>
    /// <param name="tolerance">0.0011 against one process (the printed three decimals allow one unit of rounding either way).</param>
    private static void AssertBothProcessesLearnTheLine((int ExitCode, string Output) launched, (double Slope, double Intercept) expected, double tolerance)
    {
        Assert.AreEqual(0, launched.ExitCode, launched.Output);
        var results = Regex.Matches(launched.Output, @"\[rank (\d)\] process \1/2: weight (-?[0-9.]+), bias (-?[0-9.]+)");
        Assert.AreEqual(2, results.Count, launched.Output);
        foreach (Match rank in results)
        {
            // Each process trains on its own half of the points; with gradients averaged it ends where one process on all of them does.
            Assert.AreEqual(expected.Slope, Number(rank.Groups[2]), tolerance, $"rank {rank.Groups[1]} slope\n{launched.Output}");
            Assert.AreEqual(expected.Intercept, Number(rank.Groups[3]), tolerance, $"rank {rank.Groups[1]} intercept\n{launched.Output}");
        }
        Assert.AreEqual(results[0].Groups[2].Value + results[0].Groups[3].Value, results[1].Groups[2].Value + results[1].Groups[3].Value, "both processes learned the same line");
    }

    private static double Number(Group group) => double.Parse(group.Value, CultureInfo.InvariantCulture);
}
