using System.Text.RegularExpressions;

namespace Accelerate.Sdk.Tests;

/// <summary>
/// The repository's samples, which import the SDK from src/Accelerate.Sdk/Sdk and build the runtime,
/// generator and launcher from source: what the README's first command runs on a fresh clone.
/// They are built with this test project; the tests only run them.
/// </summary>
[TestClass]
public sealed class SamplesFromSourceTests
{
    private static (int ExitCode, string Output) RunSample(string name, params string[] arguments) =>
        DotNet.Run(PackageFeed.RepoRoot, TimeSpan.FromMinutes(3), null,
            ["run", "--project", Path.Combine("samples", name), "--no-build", "--no-launch-profile", .. arguments]);

    [TestMethod]
    public void The_regression_sample_trains_on_two_processes_that_end_with_the_same_parameters()
    {
        var (exitCode, output) = RunSample("Regression", "-p:NumProcesses=2", "--", "20");

        Assert.AreEqual(0, exitCode, output);
        var done = Regex.Matches(output, @"\[rank (\d)\] process \1/2 done: loss ([0-9.]+), parameter checksum ([0-9.]+)");
        Assert.AreEqual(2, done.Count, output);
        Assert.AreEqual(done[0].Groups[3].Value, done[1].Groups[3].Value, "both processes hold the same parameters");
        Assert.IsTrue(double.Parse(done[0].Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) < 0.1, output);
    }

    [TestMethod]
    public void The_image_classifier_sample_learns_the_stripes_on_two_processes()
    {
        var (exitCode, output) = RunSample("ImageClassifier", "-p:NumProcesses=2", "--", "2");

        Assert.AreEqual(0, exitCode, output);
        var done = Regex.Matches(output, @"\[rank (\d)\] process \1/2 done: test accuracy ([0-9.]+)\s?%");
        Assert.AreEqual(2, done.Count, output);
        foreach (Match rank in done)
            Assert.IsTrue(double.Parse(rank.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) >= 90, $"rank {rank.Groups[1]} classifies at least 90% of the test images\n{output}");
        Assert.AreEqual(done[0].Groups[2].Value, done[1].Groups[2].Value, "GatherForMetrics gives both processes the accuracy over the whole test set");
    }

    [TestMethod]
    [DataRow("bf16")]
    [DataRow("fp16")]
    public void The_regression_sample_trains_unchanged_under_mixed_precision(string precision)
    {
        var (exitCode, output) = RunSample("Regression", "-p:MixedPrecision=" + precision, "--", "10");

        Assert.AreEqual(0, exitCode, output);
        var done = Regex.Match(output, @"process 0/1 done: loss ([0-9.]+), parameter checksum ([0-9.]+)");
        Assert.IsTrue(done.Success, output);
        Assert.IsTrue(double.Parse(done.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 0.2, output);
    }

    [TestMethod]
    [DataRow("bf16")]
    [DataRow("fp16")]
    public void The_image_classifier_sample_learns_the_stripes_unchanged_under_mixed_precision(string precision)
    {
        var (exitCode, output) = RunSample("ImageClassifier", "-p:MixedPrecision=" + precision, "--", "1");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "process 0/1 done: test accuracy");
    }

    [TestMethod]
    public void HelloRanks_runs_without_the_runtime_and_sees_its_place_in_the_job()
    {
        var (exitCode, output) = RunSample("HelloRanks", "-p:NumProcesses=2");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "[rank 0] hello from rank 0 of 2");
        StringAssert.Contains(output, "[rank 1] hello from rank 1 of 2");
    }

    [TestMethod]
    public void HelloRanks_runs_unchanged_under_mixed_precision()
    {
        var (exitCode, output) = RunSample("HelloRanks", "-p:MixedPrecision=bf16");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "hello from rank 0 of 1");
    }
}
