namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class ProgramTests
{
    private static string RepoRoot => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(LauncherRun.AccelerateDll)!, "../../../../.."));

    [TestMethod]
    public void A_project_is_built_then_its_output_runs()
    {
        var project = Path.Combine(RepoRoot, "tests", "Programs", "RankProbe", "RankProbe.csproj");
        Assert.IsTrue(File.Exists(project), project);
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", project, "env", "from-project"]);
        Assert.AreEqual(0, run.WaitForExit(240), run.AllOutput);
        var ranks = RankReport.From(run.Stdout);
        Assert.HasCount(2, ranks, run.AllOutput);
        Assert.IsTrue(ranks.All(r => r.Args.SequenceEqual(["from-project"])));
        run.WaitForLine(l => l.StartsWith("[accelerate] building ") && l.Contains("RankProbe.csproj"));
    }

    [TestMethod]
    public void A_project_that_was_never_built_is_built_before_its_ranks_start()
    {
        var folder = Directory.CreateTempSubdirectory("accelerate-unbuilt-");
        try
        {
            var project = Path.Combine(folder.FullName, "Unbuilt.csproj");
            File.WriteAllText(project, """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(folder.FullName, "Program.cs"),
                """System.Console.WriteLine($"fresh build ran as rank {System.Environment.GetEnvironmentVariable("RANK")}");""");

            using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", project]);

            Assert.AreEqual(0, run.WaitForExit(240), run.AllOutput);
            run.WaitForLine(l => l.Contains("fresh build ran as rank 0"));
            run.WaitForLine(l => l.Contains("fresh build ran as rank 1"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void A_missing_program_is_an_error_naming_it()
    {
        using var run = LauncherRun.Start(["--num_processes", "2", "/nowhere/Train.dll"]);
        Assert.AreEqual(2, run.WaitForExit());
        StringAssert.Contains(run.WaitForLine(l => l.Contains("ACC3008")), "'/nowhere/Train.dll' not found");

        using var none = LauncherRun.Start(["--num_processes", "2"]);
        Assert.AreEqual(2, none.WaitForExit());
        none.WaitForLine(l => l.Contains("ACC3007") && l.Contains("No program given"));
    }

    [TestMethod]
    public void A_secret_set_in_the_environment_is_the_one_ranks_get()
    {
        var secret = new string('a', 32) + new string('5', 32);
        using var run = LauncherRun.Start(["--num_processes", "2", "--cpu", LauncherRun.RankProbeDll, "env"],
            new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = secret });
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        Assert.IsTrue(RankReport.From(run.Stdout).All(r => r.Env["ACCELERATE_LAUNCH_SECRET"] == secret));

        using var bad = LauncherRun.Start(["--num_processes", "2", "--cpu", LauncherRun.RankProbeDll, "env"],
            new Dictionary<string, string?> { ["ACCELERATE_LAUNCH_SECRET"] = "short" });
        Assert.AreEqual(2, bad.WaitForExit());
        bad.WaitForLine(l => l.Contains("ACC3011") && l.Contains("64 hex characters"));
    }

    [TestMethod]
    public void Each_launch_gets_a_new_secret()
    {
        using var first = LauncherRun.Probe(["--num_processes", "1", "--cpu"], "env");
        using var second = LauncherRun.Probe(["--num_processes", "1", "--cpu"], "env");
        Assert.AreEqual(0, first.WaitForExit());
        Assert.AreEqual(0, second.WaitForExit());
        Assert.AreNotEqual(RankReport.From(first.Stdout)[0].Env["ACCELERATE_LAUNCH_SECRET"], RankReport.From(second.Stdout)[0].Env["ACCELERATE_LAUNCH_SECRET"]);
    }

    [TestMethod]
    public void Tee_without_log_dir_writes_to_a_folder_it_names()
    {
        using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "--tee", "3", "sh", "-c", "echo teed"]);
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        var folder = run.WaitForLine(l => l.StartsWith("[accelerate] rank logs: "))["[accelerate] rank logs: ".Length..];
        try
        {
            Assert.AreEqual("teed\n", File.ReadAllText(Path.Combine(folder, "attempt_0", "0", "stdout.log")));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }
}
